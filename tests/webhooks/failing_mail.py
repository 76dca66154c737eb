"""An email backend whose provider is down (the provider lives off this machine)."""

from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionError("provider down (test)")
