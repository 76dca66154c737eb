"""Which audit events become which webhook events, and the JSON body each one carries.

The body is stable: `type`, `timestamp` (when the audit event was recorded, UTC) and `data`
with the envelope (id, reference, status, title, links) and, where one is involved, the party,
the message or the sealing error. Fields are only ever added, never renamed.
"""

import json
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from signing.models import Envelope, Event, Message, Party

EVENT_TYPES = {
    "envelope.sent": _("Envelope sent for signature"),
    "envelope.completed": _("Envelope completed (sealed)"),
    "envelope.declined": _("Envelope declined"),
    "envelope.cancelled": _("Envelope cancelled"),
    "envelope.expired": _("Envelope expired"),
    "party.opened": _("A signer opened their link"),
    "party.signed": _("A signer signed"),
    "party.declined": _("A signer declined"),
    "message.failed": _("An email or SMS could not be delivered"),
    "sealing.failed": _("Sealing failed"),
}
TEST_EVENT = "webhook.test"

_BY_AUDIT_TYPE: dict[str, tuple[str, ...]] = {
    Event.Type.SENT: ("envelope.sent",),
    Event.Type.LINK_OPENED: ("party.opened",),
    Event.Type.SIGNED: ("party.signed",),
    Event.Type.DECLINED: ("party.declined", "envelope.declined"),
    Event.Type.CANCELLED: ("envelope.cancelled",),
    Event.Type.EXPIRED: ("envelope.expired",),
    Event.Type.SEALED: ("envelope.completed",),
    Event.Type.MESSAGE_FAILED: ("message.failed",),
    Event.Type.SEALING_FAILED: ("sealing.failed",),
}


def webhook_types_for(event: Event) -> tuple[str, ...]:
    """The webhook events an audit event stands for (most stand for none)."""
    types = _BY_AUDIT_TYPE.get(event.type, ())
    if event.type == Event.Type.MESSAGE_FAILED and not _message_failed_for_good(event.data):
        return ()  # an attempt that will be retried: not a failure yet
    if event.type == Event.Type.SEALING_FAILED and not event.data.get("final"):
        return ()  # backing off before another attempt
    return types


def _message_failed_for_good(data: dict[str, Any]) -> bool:
    # The outbox marks its last attempt `final`; a provider's bounce (provider_status) is final.
    return bool(data.get("final")) or "provider_status" in data


def envelope_data(envelope: Envelope) -> dict[str, Any]:
    return {
        "id": envelope.pk,
        "reference": envelope.public_id,
        "status": envelope.status,
        "title": envelope.title,
        "links": {
            "api": f"/api/v1/envelopes/{envelope.pk}",
            "page": settings.SIGNFLOW_BASE_URL
            + reverse("signing:envelope_detail", args=[envelope.pk]),
        },
    }


def party_data(party: Party) -> dict[str, Any]:
    return {
        "id": party.pk,
        "role": party.role,
        "order": party.order,
        "name": party.name,
        "channel": party.channel,
    }


def event_data(event: Event, webhook_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {"envelope": envelope_data(event.envelope)}
    if event.party is not None:
        data["party"] = party_data(event.party)
    if webhook_type in ("envelope.declined", "party.declined", "envelope.cancelled"):
        data["reason"] = event.data.get("reason", "")
    if webhook_type == "message.failed":
        message = event.data.get("message")
        # One query, only for a message that failed for good.
        row = Message.objects.filter(pk=message).values_list("template", "channel").first()
        template, channel = row if row is not None else ("", "")
        data["message"] = {
            "id": message,
            "template": template,
            "channel": channel,
            "error": str(event.data.get("error") or event.data.get("provider_status") or ""),
        }
    if webhook_type == "sealing.failed":
        data["sealing"] = {"code": event.data.get("code", ""), "kind": event.data.get("kind", "")}
    return data


def body(*, webhook_type: str, timestamp: str, data: dict[str, Any]) -> str:
    """The exact bytes that are signed and sent (compact, keys sorted: stable across retries)."""
    return json.dumps(
        {"type": webhook_type, "timestamp": timestamp, "data": data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
