"""Delivery-status webhooks: Twilio's signed callback and anymail's tracking signal."""

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from signing.models import Envelope, Message

pytestmark = pytest.mark.django_db

TOKEN = "twilio-test-token"


@pytest.fixture
def sms_message(sent_envelope: Envelope) -> Message:
    message = Message.objects.get(envelope=sent_envelope, template="invitation")
    Message.objects.filter(pk=message.pk).update(provider_id="SM123", status=Message.Status.SENT)
    return Message.objects.get(pk=message.pk)


def _signed_post(client: Client, settings, data: dict[str, str]):
    url = f"{settings.SIGNFLOW_BASE_URL}/webhooks/twilio/"
    signature = RequestValidator(TOKEN).compute_signature(url, data)
    return client.post("/webhooks/twilio/", data, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_signed_twilio_callback_marks_the_message_delivered(client, settings, sms_message):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    response = _signed_post(client, settings, {"MessageSid": "SM123", "MessageStatus": "delivered"})
    assert response.status_code == 204
    sms_message.refresh_from_db()
    assert sms_message.status == Message.Status.DELIVERED


def test_an_unsigned_twilio_callback_is_refused_and_changes_nothing(client, settings, sms_message):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    response = client.post(
        "/webhooks/twilio/",
        {"MessageSid": "SM123", "MessageStatus": "failed"},
        HTTP_X_TWILIO_SIGNATURE="forged",
    )
    assert response.status_code == 403
    sms_message.refresh_from_db()
    assert sms_message.status == Message.Status.SENT


def test_a_failed_delivery_is_recorded_with_its_reason(client, settings, sms_message):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    _signed_post(
        client,
        settings,
        {"MessageSid": "SM123", "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    sms_message.refresh_from_db()
    assert sms_message.status == Message.Status.FAILED
    assert sms_message.last_error == "30003"
    assert sms_message.envelope.events.filter(type="message_failed").exists()


def test_anymail_tracking_updates_the_email_status(sms_message):
    from anymail.signals import AnymailTrackingEvent, tracking

    event = AnymailTrackingEvent(event_type="delivered", message_id="SM123")
    tracking.send(sender=object, event=event, esp_name="Postmark")
    sms_message.refresh_from_db()
    assert sms_message.status == Message.Status.DELIVERED
