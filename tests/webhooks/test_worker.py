"""A real Celery worker over Redis that consumes only the `webhooks` queue delivers the webhook
of a sent envelope while the invitation email, on the `messages` queue that nobody consumes
here, waits: neither queue holds the other back."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from signing.models import Envelope, Message
from tests.webhooks.conftest import Receiver
from tests.workers import celery_workers, needs_worker
from tests.workers import wait_for as _wait_for
from webhooks.models import Endpoint, WebhookDelivery

pytestmark = needs_worker


@pytest.fixture
def webhooks_worker(media_root: Path, receiver: Receiver) -> Iterator[subprocess.Popen[bytes]]:
    with celery_workers(queues=["webhooks"], SIGNFLOW_WEBHOOK_ALLOWED_HOSTS="127.0.0.1") as procs:
        yield procs[0]


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
