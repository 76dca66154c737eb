"""A real Celery worker over Redis that consumes only the `webhooks` queue delivers the webhook
of a sent envelope while the invitation email, on the `messages` queue that nobody consumes
here, waits: neither queue holds the other back."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from signflow.celery import app as celery_app
from signing.models import Envelope, Message
from tests.signing.test_worker import ROOT, _wait_for, _worker_env
from tests.signing.test_worker import pytestmark as worker_marks
from tests.webhooks.conftest import Receiver
from webhooks.models import Endpoint, WebhookDelivery

pytestmark = worker_marks


@pytest.fixture
def webhooks_worker(media_root: Path, receiver: Receiver) -> Iterator[subprocess.Popen[bytes]]:
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
            "-Q",
            "webhooks",
            "--pool=solo",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=_worker_env(CELERY_WORKER="1", SIGNFLOW_WEBHOOK_ALLOWED_HOSTS="127.0.0.1"),
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    celery_app.control.purge()
    celery_app.conf.task_always_eager = True


def test_the_webhooks_worker_delivers_while_emails_wait_on_their_own_queue(
    webhooks_worker, receiver: Receiver, endpoint: Endpoint, sent_envelope_for_webhooks: Envelope
):
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="envelope.sent")
    assert _wait_for(
        lambda: WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.DELIVERED
        ).exists()
    ), WebhookDelivery.objects.get(pk=delivery.pk).last_error
    assert receiver.types() == ["envelope.sent"]
    receiver.requests[0].verified(endpoint.secret)
    invitation = Message.objects.get(envelope=sent_envelope_for_webhooks, template="invitation")
    assert invitation.status == Message.Status.QUEUED
