"""Two real Celery workers over Redis and PostgreSQL share a batch: the request only queues,
the workers create and send each envelope once."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection

from bulk import services
from bulk.models import Batch, BulkRow
from documents.models import Document
from signflow.celery import app as celery_app
from signing.models import Envelope, Message
from tests.bulk.conftest import csv_bytes, make_batch, recipients
from tests.signing.test_worker import _worker_env  # the same worker environment

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
        reason="needs REDIS_URL and PostgreSQL",
    ),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(media_root: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    processes = [
        subprocess.Popen(
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
                "-n",
                f"bulk{index}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=_worker_env(CELERY_WORKER="1"),
        )
        for index in range(2)
    ]
    yield processes
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    celery_app.conf.task_always_eager = True


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
