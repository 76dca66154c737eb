"""A real HTTP receiver on 127.0.0.1 (a thread of the test process) that records what SignFlow
posts and answers what the test scripts: 200 by default, or a list of statuses, a delay, a body.
"""

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from standardwebhooks.webhooks import Webhook

from tests.signing.conftest import invoice  # noqa: F401  (fixture)
from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.models import Endpoint

PORTS = range(8140, 8150)  # this helper's port range
# What a receiver subscribed to everything hears over a whole envelope, in order.
WHOLE_ENVELOPE = [
    "envelope.sent",
    "party.opened",  # director
    "party.signed",
    "party.opened",  # client
    "party.signed",
    "envelope.completed",
]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict:
        """The JSON body, after the Standard Webhooks check of its signature."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    delay: float = 0.0
    reply: bytes = b'{"ok":true}'
    extra_headers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/signflow?source=test"

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def types(self) -> list[str]:
        import json

        return [json.loads(r.body)["type"] for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        receiver = self.server.receiver
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        with receiver.lock:
            receiver.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
        status = receiver.next_status()
        if receiver.delay:
            time.sleep(receiver.delay)
        self.send_response(status)
        for name, value in receiver.extra_headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(receiver.reply)))
        self.end_headers()
        self.wfile.write(receiver.reply)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


def _bind() -> _Server:
    for port in PORTS:
        try:
            return _Server(("127.0.0.1", port), _Handler)
        except OSError:
            continue
    raise RuntimeError("no free port in 8140-8149")


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    server = _bind()
    found = Receiver(port=server.server_address[1])
    server.receiver = found
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A port in our range where nothing listens (connection refused)."""
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("every port of 8140-8149 is in use")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture(autouse=True)
def fresh_subscriptions() -> Iterator[None]:
    # Rolled-back tests leave no endpoint behind, but their cached set of subscribed events
    # would outlive them.
    cache.delete(services.SUBSCRIBED_CACHE_KEY)
    yield
    cache.delete(services.SUBSCRIBED_CACHE_KEY)


@pytest.fixture
def endpoint(receiver: Receiver, manager: User) -> Endpoint:
    return services.endpoint_create(url=receiver.url, events=list(EVENT_TYPES), actor=manager)


@pytest.fixture
def sent_envelope_for_webhooks(endpoint: Endpoint, sender: User, settings):
    """An envelope sent through the service after `endpoint` subscribed (its deliveries are
    written; on-commit tasks do not run in a rolled-back test)."""
    import datetime

    from django.utils import timezone

    from signing import services as signing_services
    from tests.security.conftest import _upload

    settings.SIGNFLOW_BASE_URL = "http://127.0.0.1:8000"
    document = _upload("Contrat webhooks", sender)
    envelope = signing_services.envelope_create(
        document=document, responsible=sender, language="en"
    )
    signing_services.envelope_send(
        envelope=envelope,
        actor=sender,
        parties=[
            signing_services.PartyInput(
                role="company", name="Claire Dubois", email="claire@example.com", is_company=True
            ),
            signing_services.PartyInput(
                role="client", name="Paul Martin", email="paul@example.com"
            ),
        ],
        language="en",
        deadline=timezone.now() + datetime.timedelta(days=10),
    )
    envelope.refresh_from_db()
    return envelope
