from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _on_event_appended(sender: Any, event: Any, **kwargs: Any) -> None:
    from webhooks.services import record_event

    record_event(event=event)


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The audit trail records every state change in its transaction; the webhook outbox
        # writes its deliveries in the same one (webhooks.services.record_event).
        from signing.audit import event_appended

        event_appended.connect(_on_event_appended, dispatch_uid="webhooks.record_event")
