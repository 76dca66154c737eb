"""Every task has its queue, codes keep theirs while batches send, and time limits fit Redis's
visibility timeout (signflow/celery.py, CELERY_* in settings)."""

import fnmatch
import re
from pathlib import Path

import pytest
from django.conf import settings

from signflow.celery import QUEUES, app
from signing.models import Envelope, Message

ROOT = Path(__file__).resolve().parents[2]


def _route(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def _our_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def test_every_task_is_routed_to_one_of_the_queues():
    tasks = _our_tasks()
    assert "signing.tasks.deliver_message" in tasks
    explicit = next(r for r in settings.CELERY_TASK_ROUTES if isinstance(r, dict))
    for name in tasks:
        # Not left to the default queue: someone decided where it runs.
        routed = any(fnmatch.fnmatchcase(name, pattern) for pattern in explicit)
        assert routed, f"{name} has no route: add it to CELERY_TASK_ROUTES"
        assert _route(name) in QUEUES, name


def test_codes_and_invitations_go_to_messages_and_seals_to_sealing():
    assert _route("signing.tasks.deliver_message") == "messages"
    assert _route("signing.tasks.seal_envelope") == "sealing"
    assert _route("documents.tasks.render_previews") == "previews"
    # Batches never share the codes' queue.
    for batch in ("send_reminders", "expire_envelopes", "sweep_outbox"):
        assert _route(f"signing.tasks.{batch}") == "bulk"


def test_a_worker_without_q_consumes_every_queue():
    # The test suite's real workers (tests/signing/test_worker.py, tests/faults) start without
    # -Q: they must see every queue, or a routed task would wait forever.
    assert {queue.name for queue in app.amqp.queues.values()} == set(QUEUES)


@pytest.mark.django_db(transaction=True)
def test_deliveries_queued_by_a_batch_task_go_to_bulk(monkeypatch, sent_envelope_for_reminder):
    """A reminder run (on `bulk`) queues its messages on `bulk`, not ahead of codes."""
    from signing import tasks

    published: list[str] = []
    name = "signing.tasks.deliver_message"

    def fake_publish(*args, **kwargs):  # no broker needed to see where it would go
        published.append(app.amqp.router.route({}, name, kwargs.get("args"))["queue"].name)

    monkeypatch.setattr(tasks.deliver_message, "apply_async", fake_publish)
    envelope = sent_envelope_for_reminder
    envelope.last_reminded_at = None
    envelope.sent_at = envelope.status_changed_at = envelope.created_at.replace(year=2000)
    envelope.save()
    # Run the reminder task as the beat would: through the task, so it is the current task.
    with_task = tasks.send_reminders.apply()
    assert with_task.result == 1
    assert Message.objects.filter(envelope=envelope, template="reminder").exists()
    assert published and set(published) == {"bulk"}, published


def test_a_delivery_queued_outside_a_task_keeps_the_messages_queue():
    from signflow.celery import route_batch_deliveries

    assert route_batch_deliveries("signing.tasks.deliver_message", (1,), {}, {}) is None


def test_time_limits_fit_in_the_visibility_timeout():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    hard_limits = []
    for name in _our_tasks():
        task = app.tasks[name]
        assert task.time_limit and task.soft_time_limit, f"{name} has no time limit"
        assert task.soft_time_limit < task.time_limit, name
        hard_limits.append(task.time_limit)
    # A task may wait reserved behind the one its process runs (prefetch 1): twice the longest.
    assert visibility >= 2 * max(hard_limits)


def test_the_makefile_and_compose_name_the_queues():
    makefile = (ROOT / "Makefile").read_text()
    queues = re.search(r"^QUEUES := (.+)$", makefile, flags=re.MULTILINE)
    assert queues and set(queues.group(1).split(",")) == set(QUEUES)
    assert "-Q $(QUEUES)" in makefile


@pytest.fixture
def sent_envelope_for_reminder(sent_envelope: Envelope) -> Envelope:
    assert sent_envelope.reminder_every_days > 0
    return sent_envelope
