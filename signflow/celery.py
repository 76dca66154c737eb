"""The Celery app, its queues and the routing rule that keeps codes ahead of batches.

Queues (declared in settings: CELERY_TASK_QUEUES, CELERY_TASK_ROUTES):

- `messages`: email and SMS delivery a person is waiting for (codes, invitations, the next
  signer's link, completion). Give it its own worker so nothing else ever delays a code.
- `sealing`: seals and the sealing sweep; `previews`: page renders; `webhooks`: outgoing
  webhook deliveries; `bulk`: batches (reminders, expiry, outbox sweep, bulk sends).

A worker started without `-Q` consumes every declared queue (development, the tests).
"""

import logging.config
import os
from typing import Any

from celery import Celery, current_task
from celery.signals import setup_logging
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")

app = Celery("signflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds the request id (and user) that queued a task to every log line of that task.
app.steps["worker"].add(DjangoStructLogInitStep)

QUEUES = ("messages", "sealing", "previews", "webhooks", "bulk")
DELIVERY_TASK = "signing.tasks.deliver_message"
# Messages written by these tasks go to `bulk`: a run of reminders or expiry notices must not
# queue ahead of a code a signer is waiting for on the `messages` worker.
BATCH_QUEUE = "bulk"
MESSAGES_QUEUE = "messages"


@setup_logging.connect
def _use_django_logging(**_kwargs: Any) -> None:
    """Workers log like the web processes (JSON, request id, redaction): Django's LOGGING,
    not Celery's own handler."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _queue_of(task: Any) -> str | None:
    """The queue the running task was taken from (or would be routed to, when run eagerly)."""
    delivery = getattr(task.request, "delivery_info", None) or {}
    if delivery.get("routing_key"):
        return str(delivery["routing_key"])
    return str(app.amqp.router.route({}, task.name)["queue"].name)


def delivery_queue() -> str:
    """The queue of a delivery queued now: `bulk` from inside a `bulk` task (reminders, expiry,
    bulk sends), else `messages`.

    The code a signer asks for, an invitation sent from the board, the next signer's link: all
    are queued by a web request (or the sealing worker) and keep the `messages` route.
    """
    if not current_task:  # queued by a web request or a command, not by a task
        return MESSAGES_QUEUE
    if _queue_of(current_task) == BATCH_QUEUE:  # the proxy reads the running task's attributes
        return BATCH_QUEUE
    return MESSAGES_QUEUE


def route_batch_deliveries(name: str, *_args: Any, **_kw: Any) -> dict[str, str] | None:
    """Deliveries queued from inside a `bulk` task go to `bulk` (delivery_queue)."""
    if name == DELIVERY_TASK and delivery_queue() == BATCH_QUEUE:
        return {"queue": BATCH_QUEUE}
    return None
