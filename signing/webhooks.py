"""Delivery-status webhooks: django-anymail's tracking signal and Twilio's status callback.

Both update `Message.status` for the message the provider id names. A status only moves forward
(a late "sent" never overwrites "delivered"), and each change is an audit event.
"""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from signing import audit
from signing.models import Envelope, Event, Message

logger = logging.getLogger(__name__)

_FINAL_FAILURES = {"failed", "undelivered", "bounced", "rejected", "complained", "unknown"}
_DELIVERED = {"delivered"}


def message_status_update(*, provider_id: str, provider_status: str, detail: str = "") -> bool:
    if not provider_id:
        return False
    if provider_status in _DELIVERED:
        status = Message.Status.DELIVERED
    elif provider_status in _FINAL_FAILURES:
        status = Message.Status.FAILED
    else:
        return False
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(provider_id=provider_id).first()
        if message is None or message.status in (Message.Status.DELIVERED, status):
            return False
        envelope = Envelope.objects.select_for_update(of=("self",)).get(pk=message.envelope_id)
        message.status = status
        if status == Message.Status.FAILED:
            message.last_error = (detail or provider_status)[:1000]
        message.save(update_fields=["status", "last_error"])
        audit.event_append(
            envelope=envelope,
            party=message.party,
            type=Event.Type.MESSAGE_FAILED
            if status == Message.Status.FAILED
            else Event.Type.MESSAGE_SENT,
            data={"message": message.pk, "provider_status": provider_status},
        )
    return True


try:
    from anymail.signals import tracking

    @receiver(tracking)
    def _anymail_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
        message_status_update(
            provider_id=str(event.message_id or ""),
            provider_status=str(event.event_type or ""),
            detail=str(event.description or event.reject_reason or ""),
        )
except ImportError:  # pragma: no cover - anymail is a declared dependency
    pass


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    from twilio.request_validator import RequestValidator

    signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
    url = f"{settings.SIGNFLOW_BASE_URL}{request.path}"
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN or "")
    if not settings.TWILIO_AUTH_TOKEN or not validator.validate(
        url, request.POST.dict(), signature
    ):
        return HttpResponseForbidden("invalid signature")
    message_status_update(
        provider_id=request.POST.get("MessageSid", ""),
        provider_status=request.POST.get("MessageStatus", ""),
        detail=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)
