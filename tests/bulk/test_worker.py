"""Two real Celery workers over Redis and PostgreSQL share a batch: the request only queues,
the workers create and send each envelope once."""

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from bulk import services
from bulk.models import Batch, BulkRow
from documents.models import Document
from signing.models import Envelope, Message
from tests.bulk.conftest import csv_bytes, make_batch, recipients
from tests.workers import celery_workers, needs_worker

pytestmark = needs_worker


@pytest.fixture
def workers(media_root: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    with celery_workers(2) as processes:
        yield processes


def test_two_workers_send_a_batch_once(workers, sender: User, model_document: Document) -> None:
    batch = make_batch(sender, csv_bytes(recipients(12, bad_phone_line=5)), document=model_document)
    started = time.monotonic()
    services.batch_send(batch=batch, actor=sender)  # on commit: runners queued on `bulk`
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.status == Batch.Status.DONE:
            break
        time.sleep(0.5)
    assert batch.status == Batch.Status.DONE, services.counts(batch)
    assert services.counts(batch) == {
        "pending": 0,
        "invalid": 1,
        "sent": 11,
        "failed": 0,
        "total": 12,
    }
    assert batch.rows.get(status=BulkRow.Status.INVALID).line == 5
    assert Envelope.objects.filter(bulk_row__batch=batch).count() == 11 == Envelope.objects.count()
    # The invitations went out through the workers too, one each.
    deadline = time.monotonic() + 60
    invitations = Message.objects.filter(template="invitation")
    while time.monotonic() < deadline and invitations.exclude(status=Message.Status.SENT).exists():
        time.sleep(0.5)
    assert invitations.filter(status=Message.Status.SENT).count() == 11
