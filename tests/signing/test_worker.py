"""A real Celery worker over Redis and PostgreSQL delivers the outbox; a broker outage delays
messages without losing them (the sweep sends them once Redis answers again)."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signing.models import Envelope, Message
from tests.workers import ROOT, celery_workers, needs_worker, worker_env
from tests.workers import wait_for as _wait_for

pytestmark = needs_worker


@pytest.fixture
def worker(media_root: Path) -> Iterator[subprocess.Popen[bytes]]:
    with celery_workers() as processes:
        yield processes[0]


def test_a_real_worker_delivers_the_invitation(worker, sent_envelope: Envelope):
    invitation = Message.objects.get(envelope=sent_envelope, template="invitation")
    assert _wait_for(
        lambda: Message.objects.filter(pk=invitation.pk, status=Message.Status.SENT).exists()
    ), Message.objects.get(pk=invitation.pk).status
    assert sent_envelope.events.filter(type="message_sent").count() == 1


def test_with_redis_down_sending_succeeds_and_the_sweep_sends_later(
    worker, sent_envelope: Envelope
):
    # The worker is done with the invitation first: a delivery sends the other due messages of
    # its queue with it, and would take the reminder along before any sweep.
    assert _wait_for(
        lambda: (
            not Message.objects.filter(
                envelope=sent_envelope, status=Message.Status.QUEUED
            ).exists()
        )
    )
    # Another process reminds the signer while the broker is unreachable.
    script = (
        "import django; django.setup();"
        "from signing.models import Envelope; from signing import services;"
        f"services.envelope_remind(envelope=Envelope.objects.get(pk={sent_envelope.pk}), actor=None)"
    )
    outage = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=worker_env(REDIS_URL="redis://127.0.0.1:1/0", SIGNFLOW_FORCE_BROKER="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert outage.returncode == 0, outage.stderr[-2000:]
    reminder = Message.objects.get(envelope=sent_envelope, template="reminder")
    assert reminder.status == Message.Status.QUEUED

    # Redis is back: the periodic sweep (run here through the real worker) sends it once.
    from signing.tasks import sweep_outbox

    sweep_outbox.apply_async()
    assert _wait_for(
        lambda: Message.objects.filter(pk=reminder.pk, status=Message.Status.SENT).exists()
    )
    sweep_outbox.apply_async()
    time.sleep(1)
    assert Message.objects.get(pk=reminder.pk).attempts == 1
    assert sent_envelope.events.filter(type="message_sent", data__message=reminder.pk).count() == 1
