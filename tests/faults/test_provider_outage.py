"""The mail provider or Twilio answering 500 or not answering at all.

The real clients (anymail's Postmark backend, the twilio library's requests-based HTTP client)
talk over loopback to a fake provider that answers 500, or answers too late for the client's
timeout. Each failure schedules a retry with exponential backoff; after the last attempt the
message is `failed`, the card on the board says so and offers a retry, and the envelope goes on.
"""

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from twilio.http.http_client import TwilioHttpClient

from signing import notifications
from signing.models import Envelope, Event, Message, Party
from signing.sms import TwilioSMSBackend
from tests.faults.conftest import send_invoice
from tests.signing.conftest import LINK_RE

pytestmark = pytest.mark.django_db

PORTS = range(18810, 18830)  # this suite's loopback ports
CLIENT_TIMEOUT = 1  # seconds, for both clients


class FakeProvider(ThreadingHTTPServer):
    """Postmark's and Twilio's REST endpoints on loopback; `mode` is ok, 500 or hang."""

    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeProvider

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append({"path": self.path, "body": body})
        mode = self.server.mode
        if mode == "hang":
            time.sleep(CLIENT_TIMEOUT + 2)
        twilio = "/Messages.json" in self.path
        answer: dict[str, Any]
        if mode == "ok" and twilio:
            status, answer = 201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued"}
        elif mode == "ok":
            to = json.loads(body)["To"]
            answer = {"To": to, "MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": "OK"}
            status = 200
        elif twilio:
            status, answer = 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
        else:
            status, answer = 500, {"ErrorCode": 500, "Message": "Internal Server Error"}
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in this suite's range")


class LoopbackTwilioHttpClient(TwilioHttpClient):
    """The twilio library's own HTTP client, pointed at the fake instead of api.twilio.com."""

    def __init__(self, base: str) -> None:
        super().__init__(timeout=CLIENT_TIMEOUT)
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        url = url.replace("https://api.twilio.com", self.base)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def provider(settings, monkeypatch) -> Iterator[FakeProvider]:
    server = FakeProvider(_free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": "server-token",
        "POSTMARK_API_URL": server.url + "/",
        "REQUESTS_TIMEOUT": CLIENT_TIMEOUT,
    }
    settings.SMS_BACKEND = "signing.sms.TwilioSMSBackend"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM_NUMBER = "+33700000000"
    monkeypatch.setattr(TwilioSMSBackend, "http_client", LoopbackTwilioHttpClient(server.url))
    settings.SIGNFLOW_MESSAGE_MAX_ATTEMPTS = 3
    yield server
    server.shutdown()
    server.server_close()


def _due_now(message: Message) -> None:
    """Let the backoff delay pass."""
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("outage", ["500", "hang"])
def test_a_provider_outage_backs_off_then_fails_visibly_and_breaks_nothing(
    provider: FakeProvider,
    sender_client: Client,
    invoice,
    django_capture_on_commit_callbacks,
    channel: str,
    outage: str,
):
    provider.mode = outage
    with django_capture_on_commit_callbacks(execute=True):
        envelope = send_invoice(sender_client, invoice, channel=channel)
    invitation = Message.objects.get(envelope=envelope, template="invitation")
    assert invitation.channel == channel

    # Attempt 1 failed: queued again, due in 30 s; the sweep leaves it alone until then.
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.QUEUED
    assert invitation.attempts == 1
    assert ("500" if outage == "500" else "timed out") in invitation.last_error
    delays = [(invitation.next_attempt_at - timezone.now()).total_seconds()]
    assert notifications.sweep() == 0
    assert Message.objects.get(pk=invitation.pk).attempts == 1

    # Attempt 2, due in 60 s; attempt 3 is the last (SIGNFLOW_MESSAGE_MAX_ATTEMPTS).
    _due_now(invitation)
    notifications.sweep()
    invitation.refresh_from_db()
    assert invitation.attempts == 2 and invitation.status == Message.Status.QUEUED
    delays.append((invitation.next_attempt_at - timezone.now()).total_seconds())
    assert 25 <= delays[0] <= 30 and 55 <= delays[1] <= 60, delays
    _due_now(invitation)
    notifications.sweep()
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.FAILED
    assert invitation.attempts == 3
    assert invitation.next_attempt_at is None
    assert len(provider.requests) == 3
    failures = Event.objects.filter(envelope=envelope, type="message_failed").order_by("id")
    assert [event.data["final"] for event in failures] == [False, False, True]

    # The board's card shows the failure and offers a retry.
    board = sender_client.get("/board/")
    assert board.status_code == 200
    html = board.content.decode()
    card = html[html.index(f'id="card-{envelope.pk}"') :]
    card = card[: card.index("</article>")]
    assert f'class="msg msg-failed" data-message="{invitation.pk}"' in card
    assert "Failed" in card
    assert 'data-action="retry"' in card

    # Nothing else broke: the envelope waits for the director, whose link still works.
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY
    token = LINK_RE.search(invitation.body).group(1)
    assert Client().get(f"/s/{token}/").status_code == 200
    assert sender_client.get(f"/envelopes/{envelope.pk}/").status_code == 200

    # The provider is back: a retry from the card sends it, once.
    provider.mode = "ok"
    with django_capture_on_commit_callbacks(execute=True):  # the retry dispatches on commit
        retry = sender_client.post(
            f"/board/cards/{envelope.pk}/messages/{invitation.pk}/retry/", {"next": "/board/"}
        )
    assert retry.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.SENT, invitation.last_error
    assert invitation.provider_id
    assert len(provider.requests) == 4
    assert envelope.parties.get(role=Party.Role.COMPANY).status == Party.Status.ACTIVE


def test_one_failing_message_does_not_hold_up_the_others(
    provider: FakeProvider, sender_client: Client, invoice, django_capture_on_commit_callbacks
):
    """A message that keeps failing waits for its backoff; another message goes out at once."""
    provider.mode = "500"
    with django_capture_on_commit_callbacks(execute=True):
        envelope = send_invoice(sender_client, invoice, channel="email")
    stuck = Message.objects.get(envelope=envelope, template="invitation")
    assert stuck.status == Message.Status.QUEUED
    provider.mode = "ok"
    other = Message.objects.create(
        envelope=envelope,
        channel="sms",
        recipient="+33698765432",
        template="reminder",
        body="Rappel",
    )
    assert notifications.sweep() == 1
    other.refresh_from_db()
    assert other.status == Message.Status.SENT
    stuck.refresh_from_db()
    assert stuck.status == Message.Status.QUEUED and stuck.attempts == 1
    assert stuck.next_attempt_at > timezone.now() + timedelta(seconds=20)


def test_a_twilio_that_never_answers_times_out_with_the_default_client(
    provider: FakeProvider, settings, monkeypatch, sent_envelope: Envelope
):
    """SignFlow's own Twilio client (not the test's) gives up after TWILIO_TIMEOUT."""
    assert 0 < settings.TWILIO_TIMEOUT <= 60
    settings.TWILIO_TIMEOUT = CLIENT_TIMEOUT
    monkeypatch.setattr(TwilioSMSBackend, "http_client", None)
    real_request = TwilioHttpClient.request

    def to_loopback(self: TwilioHttpClient, method: str, url: str, *args: Any, **kwargs: Any):
        url = url.replace("https://api.twilio.com", provider.url)
        return real_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(TwilioHttpClient, "request", to_loopback)
    provider.mode = "hang"
    message = Message.objects.create(
        envelope=sent_envelope, channel="sms", recipient="+33698765432", template="reminder"
    )
    started = time.monotonic()
    assert notifications.deliver(message_id=message.pk) == Message.Status.QUEUED
    assert time.monotonic() - started < CLIENT_TIMEOUT + 1.5
    message.refresh_from_db()
    assert "timed out" in message.last_error


def test_an_smtp_server_that_never_answers_times_out(settings, sent_envelope: Envelope):
    assert 0 < settings.EMAIL_TIMEOUT <= 60
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", _free_port()))
    silent.listen(5)  # accepts the connection (the kernel does), never says hello
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = CLIENT_TIMEOUT
        message = Message.objects.create(
            envelope=sent_envelope,
            channel="email",
            recipient="paul@example.com",
            template="reminder",
            subject="Rappel",
            body="Rappel",
        )
        started = time.monotonic()
        assert notifications.deliver(message_id=message.pk) == Message.Status.QUEUED
        assert time.monotonic() - started < CLIENT_TIMEOUT + 1.5
        message.refresh_from_db()
        assert "timed out" in message.last_error
    finally:
        silent.close()
