"""Retrying a failed message: one service (signing.services.message_retry) for the envelope
page and the board's card, under the envelope lock, with its audit event."""

import threading

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client

from signing import services
from signing.models import Envelope, Event, Message


def failed_invitation(envelope: Envelope) -> Message:
    message = Message.objects.get(envelope=envelope, template="invitation")
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED, attempts=5, last_error="bounce"
    )
    return message


def retry_events(envelope: Envelope) -> list[Event]:
    return [
        e
        for e in Event.objects.filter(envelope=envelope, type=Event.Type.MESSAGE_QUEUED)
        if e.data.get("retry")
    ]


@pytest.mark.django_db
def test_a_retry_queues_the_message_afresh_with_its_event(
    sender_client: Client, sender, sent_envelope: Envelope, django_capture_on_commit_callbacks
) -> None:
    message = failed_invitation(sent_envelope)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(
            f"/envelopes/{sent_envelope.pk}/messages/{message.pk}/retry/", follow=True
        )
    assert "The message was queued again." in response.content.decode()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.attempts == 1
    assert len(mail.outbox) == 1
    [event] = retry_events(sent_envelope)
    assert event.actor_id == sender.pk and event.data["message"] == message.pk


@pytest.mark.django_db
def test_a_message_that_did_not_fail_is_not_queued_again(
    sender_client: Client, sent_envelope: Envelope
) -> None:
    message = Message.objects.get(envelope=sent_envelope, template="invitation")
    status = message.status
    response = sender_client.post(
        f"/envelopes/{sent_envelope.pk}/messages/{message.pk}/retry/", follow=True
    )
    assert "This message has not failed" in response.content.decode()
    html = sender_client.post(
        f"/board/cards/{sent_envelope.pk}/messages/{message.pk}/retry/",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "This message has not failed" in html
    message.refresh_from_db()
    assert message.status == status
    assert retry_events(sent_envelope) == []


@pytest.mark.django_db
def test_an_unknown_message_is_not_found(sender, sent_envelope: Envelope) -> None:
    with pytest.raises(services.SigningError) as refused:
        services.message_retry(envelope=sent_envelope, message_id=10**9, actor=sender)
    assert refused.value.code == "message_not_found"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_retries_at_once_send_the_message_once(sender, sent_envelope: Envelope) -> None:
    message = failed_invitation(sent_envelope)
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def retry() -> None:
        try:
            barrier.wait()
            services.message_retry(envelope=sent_envelope, message_id=message.pk, actor=sender)
            outcomes.append("queued")
        except services.SigningError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["message_not_failed", "queued"]
    assert len(retry_events(sent_envelope)) == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1
