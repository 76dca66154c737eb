"""Runners racing on one batch on PostgreSQL: every row is sent exactly once."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count

from bulk import services
from bulk.models import Batch, BatchEvent, BulkRow
from documents.models import Document
from signing.models import Envelope, Message
from tests.bulk.conftest import csv_bytes, make_batch, recipients

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL"),
]


def test_three_runners_send_each_row_once(sender: User, model_document: Document) -> None:
    batch = make_batch(sender, csv_bytes(recipients(24)), document=model_document)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.SENDING)
    # Rows an earlier test of this process left behind (this test commits) are not ours to count.
    existing = Envelope.objects.count()
    barrier = threading.Barrier(3)
    sent: list[int] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            barrier.wait()
            sent.append(services.batch_work(batch_id=batch.pk)[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert sum(sent) == 24
    assert len([n for n in sent if n]) >= 2, sent  # they shared the work
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE
    assert batch.rows.filter(status=BulkRow.Status.SENT).count() == 24
    envelopes = Envelope.objects.filter(bulk_row__batch=batch)
    assert envelopes.count() == 24 == Envelope.objects.count() - existing
    invitations = Message.objects.filter(template="invitation").values("recipient")
    assert all(row["n"] == 1 for row in invitations.annotate(n=Count("id")))
    assert batch.events.filter(type="finished").count() == 1


def test_two_configurations_at_once_are_both_recorded_in_the_order_they_applied(
    sender: User, model_document: Document
) -> None:
    batch = make_batch(sender, csv_bytes(recipients(3)), document=model_document)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def configure(days: int) -> None:
        try:
            barrier.wait()
            services.batch_configure(
                batch=batch, actor=sender, mapping=batch.mapping, options={"deadline_days": days}
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=configure, args=(days,)) for days in (10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    events = list(batch.events.filter(type=BatchEvent.Type.CONFIGURED).order_by("id"))
    assert sorted(e.data["options"]["deadline_days"] for e in events) == [10, 20]
    batch.refresh_from_db()
    assert batch.options["deadline_days"] == events[-1].data["options"]["deadline_days"]
