"""What every signing service shares: the error, links, the envelope lock, status changes,
messaging a party and the deal timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone, translation
from django.utils.formats import date_format

from crm.models import DealEvent
from signflow.errors import SignFlowError
from signing import tokens
from signing.models import Envelope, Message, Party
from signing.notifications import message_queue

Actor = User | AnonymousUser | None


class SigningError(SignFlowError):
    """A rule of the workflow was broken. `code` is stable, `message` is for a person."""

    def __init__(
        self, code: str, message: Any, *, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(code, message, fields=fields)


# ---------------------------------------------------------------------------------------------
# Links


def signing_link(party: Party) -> str:
    token = tokens.token_for(party_id=party.pk, nonce=party.token_nonce)
    return f"{settings.SIGNFLOW_BASE_URL}/s/{token}/"


def party_for_token(token: str) -> Party | None:
    if not token or len(token) > 100:
        return None
    return (
        Party.objects.select_related("envelope", "envelope__document", "envelope__company")
        .filter(token_hash=tokens.hash_token(token))
        .exclude(token_hash="")
        .first()
    )


def _issue_link(party: Party) -> str:
    party.token_nonce = tokens.new_nonce()
    party.token_hash = tokens.hash_token(
        tokens.token_for(party_id=party.pk, nonce=party.token_nonce)
    )
    party.token_issued_at = timezone.now()
    return signing_link(party)


def _deadline_passed(envelope: Envelope) -> bool:
    return envelope.deadline is not None and envelope.deadline <= timezone.now()


def _local(dt: datetime | None, language: str) -> str:
    if dt is None:
        return ""
    with translation.override(language):
        return date_format(timezone.localtime(dt), "DATETIME_FORMAT")


def _base_context(envelope: Envelope) -> dict[str, Any]:
    sender = envelope.responsible
    company = envelope.company.legal_name if envelope.company else ""
    return {
        "title": envelope.title,
        "sender_name": sender.get_full_name() or sender.get_username(),
        "sender_company": company or "SignFlow",
        "company_name": company or "SignFlow",
        "deadline": _local(envelope.deadline, envelope.language),
        "note": envelope.note,
    }


def _invite(
    envelope: Envelope, party: Party, *, template: str = Message.Template.INVITATION
) -> None:
    """Give `party` a fresh link and queue the message that carries it."""
    link = _issue_link(party)
    party.status = Party.Status.ACTIVE
    party.save(update_fields=["token_nonce", "token_hash", "token_issued_at", "status"])
    message_queue(
        envelope=envelope,
        party=party,
        template=template,
        channel=party.channel,
        recipient=party.recipient,
        context={**_base_context(envelope), "party_name": party.name, "link": link},
    )


def _notify_sender(envelope: Envelope, template: str, context: dict[str, Any]) -> None:
    email = envelope.responsible.email
    if email:
        message_queue(
            envelope=envelope,
            template=template,
            channel=Party.Channel.EMAIL,
            recipient=email,
            context={**_base_context(envelope), **context},
        )


def _lock(envelope_id: int) -> Envelope:
    return (
        Envelope.objects.select_for_update(of=("self",))
        .select_related("responsible", "company", "document")
        .get(pk=envelope_id)
    )


def _set_status(envelope: Envelope, status: str, *extra: str) -> None:
    envelope.status = status
    envelope.status_changed_at = timezone.now()
    envelope.save(update_fields=["status", "status_changed_at", *extra])


def _deal_timeline(envelope: Envelope, kind: str, text: str) -> None:
    if envelope.deal_id:
        DealEvent.objects.create(deal_id=envelope.deal_id, kind=kind, text=text[:500])
