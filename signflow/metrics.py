"""Prometheus metrics at /metrics, for the operator's scraper only.

Two sources, chosen so that any web replica answers for the whole installation:

- State read from the database at scrape time (`DatabaseCollector`): envelopes by state,
  messages sent and failed by channel (rows of the outbox), the outbox backlog and the age of
  its oldest message, envelopes waiting in `sealing` by error kind, webhook deliveries by
  status. Every replica gives the same numbers, whichever process or node did the work, and
  nothing is lost when a worker restarts. Each is one GROUP BY on an indexed column or a small
  set (messages not yet sent, envelopes in sealing).
- What only the worker sees, observed where it happens (`record_seal`, from Celery's
  task_prerun/task_postrun signals): the seal duration histogram and TSA errors. These use
  prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (a folder
  shared by the web and worker processes of one host: each process writes its own file,
  /metrics adds them up); without it they live in the process that observed them.

Access (settings): off (404) unless SIGNFLOW_METRICS_ALLOWED_IPS or SIGNFLOW_METRICS_TOKEN is
set; then a client whose address is allowed, or that sends `Authorization: Bearer <token>`,
gets the metrics, anyone else 403.
"""

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.apps import apps
from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from signflow.net import client_ip

SEAL_TASK = "signing.tasks.seal_envelope"
SEAL_DURATION = Histogram(
    "signflow_seal_duration_seconds",
    "Time one seal task took (flatten, PAdES signature, timestamp, registration).",
    ["outcome"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)
TSA_ERRORS = Counter(
    "signflow_tsa_errors",
    "Seal attempts that failed at the timestamp authority (unreachable or a bad answer).",
)


class DatabaseCollector(Collector):
    """Reads the installation's state from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from _envelopes()
        yield from _messages()
        yield from _outbox()
        yield from _sealing_waiting()
        yield from _webhook_deliveries()


def _envelopes() -> Iterator[Metric]:
    from signing.models import Envelope

    envelopes = GaugeMetricFamily("signflow_envelopes", "Envelopes by state.", labels=["state"])
    counts = dict(Envelope.objects.order_by().values_list("status").annotate(n=Count("id")))
    for state in Envelope.Status.values:
        envelopes.add_metric([state], counts.get(state, 0))
    yield envelopes


def _messages() -> Iterator[Metric]:
    from signing.models import Message

    done = (Message.Status.SENT, Message.Status.DELIVERED)
    sent = CounterMetricFamily(
        "signflow_messages_sent",
        "Messages the provider accepted (sent or delivered), by channel.",
        labels=["channel"],
    )
    failed = CounterMetricFamily(
        "signflow_messages_failed",
        "Messages given up after every attempt, or reported undeliverable, by channel.",
        labels=["channel"],
    )
    by_channel = (
        Message.objects.order_by()
        .values("channel")
        .annotate(
            sent=Count("id", filter=Q(status__in=done)),
            failed=Count("id", filter=Q(status=Message.Status.FAILED)),
        )
    )
    rows: dict[str, dict[str, Any]] = {row["channel"]: dict(row) for row in by_channel}
    for channel in Message._meta.get_field("channel").choices or ():
        row: dict[str, Any] = rows.get(channel[0], {})
        sent.add_metric([channel[0]], row.get("sent", 0))
        failed.add_metric([channel[0]], row.get("failed", 0))
    yield sent
    yield failed


def _outbox() -> Iterator[Metric]:
    from signing.models import Message

    pending = Message.objects.filter(
        status__in=(Message.Status.QUEUED, Message.Status.SENDING)
    ).aggregate(n=Count("id"), oldest=Min("created_at"))
    yield GaugeMetricFamily(
        "signflow_outbox_backlog",
        "Messages written but not yet handed to a provider (queued or being sent).",
        value=pending["n"],
    )
    oldest = pending["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    yield GaugeMetricFamily(
        "signflow_outbox_oldest_age_seconds",
        "Age of the oldest message not yet handed to a provider (0 when none).",
        value=max(age, 0.0),
    )


def _sealing_waiting() -> Iterator[Metric]:
    from signing.models import Envelope

    sealing = GaugeMetricFamily(
        "signflow_sealing_waiting",
        "Envelopes in `sealing`, by the kind of their last error ('' = none yet).",
        labels=["error_kind"],
    )
    for kind, n in (
        Envelope.objects.filter(status=Envelope.Status.SEALING)
        .order_by()
        .values_list("sealing_error_kind")
        .annotate(n=Count("id"))
    ):
        sealing.add_metric([kind], n)
    yield sealing


def _webhook_deliveries() -> Iterator[Metric]:
    """Outgoing webhook deliveries by status, when the webhooks app is installed."""
    if not apps.is_installed("webhooks"):
        return
    try:
        model = apps.get_model("webhooks", "WebhookDelivery")
    except LookupError:
        return
    family = GaugeMetricFamily(
        "signflow_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
    )
    counts = dict(model.objects.order_by().values_list("status").annotate(n=Count("id")))
    statuses = [value for value, _label in model._meta.get_field("status").choices or ()]
    for status in dict.fromkeys([*statuses, *counts]):
        family.add_metric([str(status)], counts.get(status, 0))
    yield family


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(DatabaseCollector())
    return registry


class _ProcessMetrics(Collector):
    """This process's own metrics (the default registry) when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _allowed_ip(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in settings.SIGNFLOW_METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _allowed_token(request: HttpRequest) -> bool:
    token = settings.SIGNFLOW_METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.SIGNFLOW_METRICS_ALLOWED_IPS and not settings.SIGNFLOW_METRICS_TOKEN:
        raise Http404
    if not (_allowed_token(request) or _allowed_ip(client_ip(request))):
        return HttpResponseForbidden()
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


_started: dict[str, float] = {}


@task_prerun.connect
def _seal_started(task_id: str = "", task: Any = None, **_kwargs: Any) -> None:
    if task is not None and task.name == SEAL_TASK:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _seal_finished(task_id: str = "", task: Any = None, args: Any = (), **_kwargs: Any) -> None:
    started = _started.pop(task_id, None)
    if task is None or task.name != SEAL_TASK or started is None or not args:
        return
    record_seal(envelope_id=int(args[0]), seconds=time.monotonic() - started)


def record_seal(*, envelope_id: int, seconds: float) -> None:
    """The seal task records a failure on the envelope instead of raising: read its outcome."""
    from signing.models import Envelope

    row = Envelope.objects.filter(pk=envelope_id).values("status", "sealing_error_kind").first()
    if row is None:
        return
    if row["status"] == Envelope.Status.COMPLETED:
        outcome = "completed"
    elif row["status"] == Envelope.Status.SEALING and row["sealing_error_kind"]:
        outcome = "failed"
        if row["sealing_error_kind"] == "tsa":
            TSA_ERRORS.inc()
    else:
        outcome = "skipped"  # claimed elsewhere, not due yet, cancelled meanwhile
    SEAL_DURATION.labels(outcome=outcome).observe(seconds)
