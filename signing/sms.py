"""SMS providers behind one small interface, so another provider can be added."""

import logging
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSError(Exception):
    pass


class SMSBackend(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send one SMS and return the provider's message id."""
        ...


class OutboxSMSBackend:
    """Development backend: the message stays visible in the outbox page only."""

    def send(self, *, to: str, body: str) -> str:
        logger.info(
            "SMS to %s (%d characters) kept in the outbox (no SMS provider configured)",
            to,
            len(body),
        )
        return ""


class TwilioSMSBackend:
    # Twilio's HTTP layer; tests replace it with a fake at this boundary (no network in tests).
    http_client: Any = None

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # Without a timeout the library waits forever on a Twilio that never answers.
        http_client = self.http_client or TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT)
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client
        )

    def send(self, *, to: str, body: str) -> str:
        from twilio.base.exceptions import TwilioException

        callback = f"{settings.SIGNFLOW_BASE_URL}/webhooks/twilio/"
        try:
            message = self.client.messages.create(
                to=to, from_=settings.TWILIO_FROM_NUMBER, body=body, status_callback=callback
            )
        except TwilioException as exc:
            raise SMSError(str(exc)) from exc
        return str(message.sid)


def get_sms_backend() -> SMSBackend:
    backend: SMSBackend = import_string(settings.SMS_BACKEND)()
    return backend
