"""Delivery in batches: one claim (UPDATE … RETURNING) takes the due messages of one queue, they
go out over one mail connection, and one transaction records them. A failing message does not
hold back the others, a reminder run never rides with a code, and two workers never send one
message twice (real PostgreSQL)."""

import datetime
import threading
from typing import Any

import pytest
import time_machine
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from signing import audit, notifications, services, tasks
from signing.models import Envelope, Event, Message
from tests.factories import make_invoice

pytestmark = pytest.mark.django_db

FAILING = "bounce@example.com"


class CountingBackend(LocmemBackend):
    """Django's test backend, counting connections opened and refusing FAILING."""

    opened = 0
    sent: list[str] = []
    lock = threading.Lock()

    def open(self) -> bool:
        if getattr(self, "_open", False):
            return False
        self._open = True
        with self.lock:
            CountingBackend.opened += 1
        return True

    def close(self) -> None:
        self._open = False

    def send_messages(self, messages: Any) -> int:
        for message in messages:
            if FAILING in message.to:
                raise ConnectionError("550 mailbox unavailable")
            with self.lock:
                CountingBackend.sent.append(message.to[0])
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def counting(settings, sent_envelope: Envelope) -> type[CountingBackend]:
    """After the envelope's own invitation went out: counts only what the test sends."""
    settings.EMAIL_BACKEND = "tests.signing.test_delivery_batches.CountingBackend"
    CountingBackend.opened = 0
    CountingBackend.sent = []
    notifications._HANDLED.clear()
    return CountingBackend


def _queued(envelope: Envelope, n: int, *, queue: str = "messages", **fields: Any) -> list[int]:
    rows = [
        Message(
            envelope=envelope,
            channel="email",
            recipient=fields.get("recipient", f"person{i}@example.com"),
            template=fields.get("template", Message.Template.REMINDER),
            subject=f"Rappel {i}",
            body="Merci de signer",
            html_body="<p>Merci de signer</p>",
            queue=queue,
            next_attempt_at=fields.get("next_attempt_at"),
        )
        for i in range(n)
    ]
    return [m.pk for m in Message.objects.bulk_create(rows)]


def test_one_delivery_sends_the_due_messages_of_its_queue_over_one_connection(
    sent_envelope: Envelope,
):
    ids = _queued(sent_envelope, 5)
    assert notifications.deliver(message_id=ids[2]) == Message.Status.SENT
    assert Message.objects.filter(pk__in=ids, status=Message.Status.SENT).count() == 5
    assert CountingBackend.opened == 1
    assert len(CountingBackend.sent) == 5
    # Its own message first, then the others in the order they were written.
    assert CountingBackend.sent[0] == "person2@example.com"
    sent_events = Event.objects.filter(envelope=sent_envelope, type=Event.Type.MESSAGE_SENT)
    assert set(ids) <= set(sent_events.values_list("data__message", flat=True))
    assert audit.chain_check(envelope=sent_envelope).ok
    # The other messages' own tasks find them done without a query.
    with CaptureQueriesContext(connection) as ctx:
        assert notifications.deliver(message_id=ids[4]) == "skipped"
    assert ctx.captured_queries == []
    assert len(CountingBackend.sent) == 5


def test_a_failing_message_does_not_hold_back_the_others(sent_envelope: Envelope):
    ids = _queued(sent_envelope, 2) + _queued(sent_envelope, 1, recipient=FAILING)
    ids += _queued(sent_envelope, 2)
    assert notifications.deliver(message_id=ids[0]) == Message.Status.SENT
    failed = Message.objects.get(pk=ids[2])
    assert failed.status == Message.Status.QUEUED
    assert "550" in failed.last_error
    assert failed.next_attempt_at > timezone.now()
    assert failed.attempts == 1
    others = Message.objects.filter(pk__in=ids).exclude(pk=ids[2])
    assert set(others.values_list("status", flat=True)) == {Message.Status.SENT}
    assert Event.objects.filter(
        envelope=sent_envelope, type=Event.Type.MESSAGE_FAILED, data__message=ids[2]
    ).exists()
    assert audit.chain_check(envelope=sent_envelope).ok
    # Not due yet: the next delivery of someone else's message leaves it alone.
    later = _queued(sent_envelope, 1)
    notifications.deliver(message_id=later[0])
    assert Message.objects.get(pk=ids[2]).attempts == 1


def test_a_code_never_rides_in_a_reminder_batch_nor_the_other_way(sent_envelope: Envelope):
    reminders = _queued(sent_envelope, 3, queue="bulk")
    code = _queued(sent_envelope, 1, template=Message.Template.CODE)
    assert notifications.deliver(message_id=code[0]) == Message.Status.SENT
    assert Message.objects.filter(pk__in=reminders, status=Message.Status.QUEUED).count() == 3
    other_code = _queued(sent_envelope, 1, template=Message.Template.CODE)
    assert notifications.deliver(message_id=reminders[0]) == Message.Status.SENT
    assert Message.objects.filter(pk__in=reminders, status=Message.Status.SENT).count() == 3
    assert Message.objects.get(pk=other_code[0]).status == Message.Status.QUEUED


def test_messages_written_by_a_bulk_task_go_to_the_bulk_queue(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    assert set(Message.objects.filter(envelope=sent_envelope).values_list("queue", flat=True)) == {
        "messages"
    }
    start = timezone.now()
    with (
        django_capture_on_commit_callbacks(execute=True),
        time_machine.travel(start + datetime.timedelta(days=3, minutes=1)),
    ):
        tasks.send_reminders.apply()
    reminders = Message.objects.filter(envelope=sent_envelope, template="reminder")
    assert reminders.exists()
    assert set(reminders.values_list("queue", flat=True)) == {"bulk"}
    assert set(reminders.values_list("status", flat=True)) == {Message.Status.SENT}


def test_the_sweep_sends_in_batches_codes_first(sent_envelope: Envelope):
    bulk = _queued(sent_envelope, 3, queue="bulk")
    urgent = _queued(sent_envelope, 2, template=Message.Template.INVITATION)
    assert notifications.sweep() == 5
    assert CountingBackend.opened == 2  # one connection per queue's batch
    order = list(
        Event.objects.filter(envelope=sent_envelope, type=Event.Type.MESSAGE_SENT)
        .order_by("id")
        .values_list("data__message", flat=True)
    )
    assert order[-5:] == urgent + bulk
    assert notifications.sweep() == 0


def test_a_batch_of_messages_costs_a_fixed_number_of_queries(
    sent_envelope: Envelope, envelope: Envelope, django_assert_max_num_queries
):
    ids = _queued(sent_envelope, 10) + _queued(envelope, 10)
    # claim (1), mark sent (1), lock the envelopes (1), their tails (1), the events (1), plus
    # SAVEPOINT/RELEASE here because the test runs inside a transaction: whatever the number.
    with django_assert_max_num_queries(7):
        assert notifications.deliver(message_id=ids[0]) == Message.Status.SENT
    assert Message.objects.filter(pk__in=ids, status=Message.Status.SENT).count() == 20
    assert audit.chain_check(envelope=sent_envelope).ok
    assert audit.chain_check(envelope=envelope).ok


@pytest.fixture
def envelope(sent_envelope: Envelope, invoice: Any) -> Envelope:
    """A second envelope, for batches that span two chains."""
    return services.envelope_create_from_invoice(
        invoice=make_invoice(invoice.deal), actor=sent_envelope.responsible, language="fr"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent claims need PostgreSQL")
def test_workers_racing_over_many_messages_send_each_exactly_once(sent_envelope: Envelope):
    ids = _queued(sent_envelope, 120)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker(mine: list[int]) -> None:
        barrier.wait()
        try:
            for pk in mine:
                notifications._HANDLED.pop(pk, None)  # each thread plays its own process
                notifications.deliver(message_id=pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(ids[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(CountingBackend.sent) == sorted(f"person{i}@example.com" for i in range(120))
    assert Message.objects.filter(pk__in=ids, status=Message.Status.SENT).count() == 120
    assert (
        Event.objects.filter(envelope=sent_envelope, type=Event.Type.MESSAGE_SENT)
        .filter(data__message__in=ids)
        .count()
        == 120
    )
    assert audit.chain_check(envelope=sent_envelope).ok


def test_a_french_subject_is_b_encoded_and_decodes_to_the_same_text(sent_envelope: Envelope):
    from email import message_from_bytes
    from email.header import decode_header, make_header

    subject = "Signature demandée : facture FA-2026-0001 — Atelier Lumière SAS, avant vendredi"
    email = notifications._Email(subject=subject, body="Bonjour", to=["a@example.com"])
    email.attach_alternative("<p>Bonjour</p>", "text/html")
    raw = email.message().as_bytes()
    assert b"=?utf-8?b?" in raw
    parsed = message_from_bytes(raw)
    assert str(make_header(decode_header(parsed["Subject"]))) == subject
    assert email.subject == subject  # anymail and the test outbox read the text
    assert len(parsed.get_all("Subject")) == 1


def test_a_batch_out_of_time_gives_the_rest_back_to_the_queue(sent_envelope: Envelope, monkeypatch):
    monkeypatch.setattr(notifications, "BATCH_SECONDS", 0.0)
    published: list[tuple[int, str | None]] = []
    monkeypatch.setattr(
        notifications, "dispatch", lambda pk, queue=None: published.append((pk, queue))
    )
    ids = _queued(sent_envelope, 4)
    assert notifications.deliver(message_id=ids[0]) == Message.Status.SENT
    assert published == [(pk, "messages") for pk in ids[1:]]  # handed to the worker again
    rest = Message.objects.filter(pk__in=ids[1:])
    assert set(rest.values_list("status", "attempts", "claimed_at")) == {
        (Message.Status.QUEUED, 0, None)
    }
    assert CountingBackend.sent == ["person0@example.com"]
    # Not taken for done: their deliveries send them.
    monkeypatch.setattr(notifications, "BATCH_SECONDS", 20.0)
    for pk in ids[1:]:
        notifications.deliver(message_id=pk)
    assert Message.objects.filter(pk__in=ids, status=Message.Status.SENT).count() == 4
    assert Message.objects.filter(pk__in=ids, attempts=1).count() == 4
    assert audit.chain_check(envelope=sent_envelope).ok
