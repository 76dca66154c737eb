"""Fake email and SMS providers, at their client boundary, shared with worker subprocesses.

Every message a provider accepts is appended to a JSON-lines log (the recipient's inbox, as far
as the tests are concerned). `FAULTS_BLOCK` makes the first call of one channel hang so that a
test can SIGKILL the worker in the middle of a send: `email-before` hangs before the provider
accepts the message, `email-after` hangs once it has (the provider sent it, SignFlow does not
know yet); the same with `sms-`. A marker file next to the log says the call is hanging.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from twilio.http.response import Response


def provider_log() -> Path:
    return Path(os.environ["FAULTS_PROVIDER_LOG"])


def blocked_marker() -> Path:
    return provider_log().with_suffix(".blocked")


def delivered(log: Path) -> list[dict[str, str]]:
    """What the fake providers accepted, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _hang() -> None:
    time.sleep(3600)  # until the test kills this process


def provider_call(*, channel: str, recipient: str, text: str) -> None:
    mode = os.environ.get("FAULTS_BLOCK", "")
    marker = blocked_marker()
    block = mode.startswith(f"{channel}-") and not marker.exists()
    if block and mode.endswith("-before"):
        marker.write_text(recipient)
        _hang()
    with provider_log().open("a") as fh:
        fh.write(json.dumps({"channel": channel, "to": recipient, "text": text[:200]}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    if block and mode.endswith("-after"):
        marker.write_text(recipient)
        _hang()


class ProviderEmailBackend(BaseEmailBackend):
    """Django's email backend interface, where an anymail provider backend would sit."""

    def send_messages(self, email_messages: Any) -> int:
        for message in email_messages:
            for recipient in message.recipients():
                provider_call(channel="email", recipient=recipient, text=message.subject)
        return len(email_messages)


class ProviderTwilioHttp:
    """Twilio's HTTP client: the real twilio library builds the request, this answers it."""

    def request(self, method: str, uri: str, **kwargs: Any) -> Response:
        data = kwargs.get("data") or {}
        provider_call(channel="sms", recipient=data.get("To", ""), text=data.get("Body", ""))
        sid = f"SM{time.time_ns():032d}"[:34]
        return Response(201, json.dumps({"sid": sid, "status": "queued", "to": data.get("To")}))
