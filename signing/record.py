"""The whole record of an envelope for its certificate of completion (see seal_metadata).

verification never imports signing: everything the certificate prints, and the JSON copy
embedded in the sealed PDF carries, is handed over here as plain data: every audit event in
order, each party's consent words and their signature and stamp images.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from django.utils import translation

from documents.models import Field
from signing.models import Envelope, Event, FieldValue, Message, Party

IMAGE_KINDS = (Field.Kind.SIGNATURE, Field.Kind.INITIALS, Field.Kind.STAMP)
# Events that reach the party's own contact (the code, a new link) without a Message row.
_TO_PARTY_CONTACT = (Event.Type.CODE_SENT, Event.Type.LINK_REISSUED)
# Done by SignFlow itself: a message's party is its recipient, not who acted.
_SYSTEM_EVENTS = (
    Event.Type.MESSAGE_QUEUED,
    Event.Type.MESSAGE_SENT,
    Event.Type.MESSAGE_FAILED,
    Event.Type.EXPIRED,
    Event.Type.SEALING_STARTED,
    Event.Type.SEALING_FAILED,
    Event.Type.SEALED,
)


def masked_contact(channel: str, recipient: str) -> str:
    from signing.services import mask_email, mask_phone

    return mask_phone(recipient) if channel == Party.Channel.SMS else mask_email(recipient)


def _iso(value: Any) -> str:
    from signing.services import _iso as iso

    return iso(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def events_record(envelope: Envelope) -> list[dict[str, Any]]:
    """Every audit event in chain order, with the message it concerns, labelled in the
    envelope's language."""
    events = list(
        Event.objects.filter(envelope=envelope).select_related("party", "actor").order_by("id")
    )
    message_ids = {
        mid for e in events if (mid := _int_or_none((e.data or {}).get("message"))) is not None
    }
    messages = {m.pk: m for m in Message.objects.filter(envelope=envelope, pk__in=message_ids)}
    labels = {}
    with translation.override(envelope.language):
        for value, label in Event.Type.choices:
            labels[value] = str(label)
    out = []
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        message = messages.get(_int_or_none(data.get("message")) or 0)
        if event.actor is not None:
            actor = event.actor.get_full_name() or event.actor.get_username()
            actor_kind = "employee"
        elif event.party is not None and event.type not in _SYSTEM_EVENTS:
            actor, actor_kind = event.party.name, "signer"
        else:
            actor, actor_kind = "SignFlow", "system"
        channel = str(data.get("channel") or (message.channel if message else ""))
        recipient = ""
        if message is not None:
            recipient = masked_contact(message.channel, message.recipient)
        elif event.type in _TO_PARTY_CONTACT and event.party is not None:
            party = event.party
            recipient = masked_contact(party.channel, party.recipient)
            channel = channel or party.channel
        out.append(
            {
                "at": _iso(event.created_at),
                "type": event.type,
                "label": labels.get(event.type, event.type),
                "actor": actor,
                "actor_kind": actor_kind,
                "party_role": event.party.role if event.party is not None else "",
                "ip": event.ip or "",
                "user_agent": event.user_agent,
                "channel": channel,
                "recipient_masked": recipient,
                "provider_message_id": message.provider_id if message else "",
                "code_attempt": _int_or_none(data.get("attempt")),
                "hash": event.hash,
            }
        )
    return out


def party_images(party: Party) -> list[dict[str, Any]]:
    """The party's signature, initials and stamp images: kind, method, SHA-256, data URI."""
    out = []
    values = (
        FieldValue.objects.filter(party=party, field__kind__in=IMAGE_KINDS)
        .select_related("field")
        .order_by("field__page", "field_id")
    )
    for value in values:
        if not value.image:
            continue
        with value.image.open("rb") as fh:
            data = fh.read()
        out.append(
            {
                "kind": value.field.kind,
                "method": value.method,
                "page": value.field.page,
                "sha256": hashlib.sha256(data).hexdigest(),
                "data_uri": "data:image/png;base64," + base64.b64encode(data).decode(),
            }
        )
    return out
