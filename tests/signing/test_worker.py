"""A real Celery worker over Redis and PostgreSQL delivers the outbox; a broker outage delays
messages without losing them (the sweep sends them once Redis answers again)."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from signflow.celery import app as celery_app
from signing.models import Envelope, Message

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
        reason="needs REDIS_URL and PostgreSQL (make test in CI sets both)",
    ),
]
ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="signflow.settings_test",
        DATABASE_URL=_test_database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        # The worker seals with the keys this process verifies with (outside MEDIA_ROOT).
        SIGNFLOW_KEYS_DIR=str(settings.SIGNFLOW_KEYS_DIR),
        **extra,
    )
    return env


@pytest.fixture
def worker(media_root: Path) -> Iterator[subprocess.Popen[bytes]]:
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "signflow",
            "worker",
            "--pool=solo",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=_worker_env(CELERY_WORKER="1"),
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    celery_app.conf.task_always_eager = True


def _wait_for(predicate, timeout: float = 40.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


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
        env=_worker_env(REDIS_URL="redis://127.0.0.1:1/0", SIGNFLOW_FORCE_BROKER="1"),
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
