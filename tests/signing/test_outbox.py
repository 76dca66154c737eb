"""The outbox: providers faked at their client boundary (Twilio's HTTP client, anymail's test
backend), retries with backoff, a final failure, and one send per message under races."""

import json
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from twilio.http.response import Response

from signing import notifications
from signing.models import Envelope, Event, Message
from signing.sms import TwilioSMSBackend

pytestmark = pytest.mark.django_db


class FakeTwilioHttp:
    """Answers like Twilio's REST API; records what the real twilio library sent."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def request(self, method: str, uri: str, **kwargs: Any) -> Response:
        self.requests.append({"method": method, "uri": uri, **kwargs})
        if self.status >= 400:
            body = {
                "code": 21211,
                "message": "The 'To' number is not a valid phone number.",
                "status": self.status,
            }
        else:
            body = {
                "sid": f"SM{len(self.requests):032d}",
                "status": "queued",
                "to": kwargs["data"]["To"],
            }
        return Response(self.status, json.dumps(body))


@pytest.fixture
def twilio(settings, monkeypatch) -> FakeTwilioHttp:
    settings.SMS_BACKEND = "signing.sms.TwilioSMSBackend"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+33700000000"
    fake = FakeTwilioHttp()
    monkeypatch.setattr(TwilioSMSBackend, "http_client", fake)
    return fake


def _sms(envelope: Envelope) -> Message:
    return Message.objects.create(
        envelope=envelope,
        channel="sms",
        recipient="+33698765432",
        template="reminder",
        body="Rappel",
    )


def test_an_sms_goes_through_twilio_and_keeps_its_sid(
    sent_envelope: Envelope, twilio: FakeTwilioHttp
):
    message = _sms(sent_envelope)
    assert notifications.deliver(message_id=message.pk) == Message.Status.SENT
    message.refresh_from_db()
    assert message.provider_id.startswith("SM")
    sent = twilio.requests[0]
    assert sent["method"] == "POST" and sent["uri"].endswith("/Messages.json")
    assert sent["data"]["To"] == "+33698765432"
    assert sent["data"]["From"] == "+33700000000"
    assert sent["data"]["StatusCallback"].endswith("/webhooks/twilio/")


def test_a_provider_error_is_retried_with_backoff_then_marked_failed(
    sent_envelope: Envelope, twilio: FakeTwilioHttp, settings
):
    settings.SIGNFLOW_MESSAGE_MAX_ATTEMPTS = 3
    twilio.status = 400
    message = _sms(sent_envelope)
    assert notifications.deliver(message_id=message.pk) == Message.Status.QUEUED
    message.refresh_from_db()
    assert "not a valid phone number" in message.last_error
    assert message.next_attempt_at > timezone.now()
    # Not due yet: the sweep leaves it alone.
    assert notifications.sweep() == 0
    assert Message.objects.get(pk=message.pk).attempts == 1
    for _ in range(2):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        notifications.sweep()
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3
    assert Event.objects.filter(envelope=sent_envelope, type="message_failed").count() == 3


def test_backoff_grows_exponentially_and_is_capped():
    delays = [notifications.backoff(n).total_seconds() for n in (1, 2, 3, 4, 20)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays[4] == 6 * 3600


def test_email_goes_through_anymail_and_keeps_the_provider_id(sent_envelope: Envelope, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    message = Message.objects.create(
        envelope=sent_envelope,
        channel="email",
        recipient="paul@example.com",
        template="reminder",
        subject="Rappel",
        body="Rappel",
        html_body="<p>Rappel</p>",
    )
    assert notifications.deliver(message_id=message.pk) == Message.Status.SENT
    message.refresh_from_db()
    assert message.provider_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent claims need PostgreSQL")
def test_two_workers_racing_for_one_message_send_it_once(
    sent_envelope: Envelope, twilio: FakeTwilioHttp
):
    message = _sms(sent_envelope)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(notifications.deliver(message_id=message.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results.count(Message.Status.SENT) == 1
    assert results.count("skipped") == 7
    assert len(twilio.requests) == 1


def test_only_our_own_links_are_clickable_in_an_email(settings):
    rendered = notifications.render_message(
        template="invitation",
        channel="email",
        language="en",
        context={
            "title": "Contrat",
            "party_name": "Paul",
            "sender_name": "Sophie",
            "sender_company": "Atelier",
            "company_name": "Atelier",
            "deadline": "",
            "note": "Please also log in at https://evil.example/login <b>now</b>",
            "link": f"{settings.SIGNFLOW_BASE_URL}/s/abc/",
        },
    )
    html = rendered["html"]
    assert f'<a href="{settings.SIGNFLOW_BASE_URL}/s/abc/">' in html
    assert 'href="https://evil.example' not in html
    assert "&lt;b&gt;now&lt;/b&gt;" in html
