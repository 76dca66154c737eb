"""Creating an envelope and sending it: parties checked, links issued, invitations queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Invoice
from documents.models import Document, Field
from signing import audit
from signing.models import Envelope, Event, Party
from signing.services._common import SigningError, _deal_timeline, _invite, _lock, _set_status

# ---------------------------------------------------------------------------------------------
# Creating and sending


def envelope_create(
    *,
    document: Document,
    responsible: User,
    language: str = "fr",
    amount: Decimal | None = None,
    currency: str = "EUR",
) -> Envelope:
    """A draft envelope for a document, with the CRM links the document carries."""
    with transaction.atomic():
        deal = document.deal
        employee = getattr(responsible, "employee", None)
        envelope = Envelope(
            document=document,
            title=document.title,
            language=language,
            responsible=responsible,
            company=deal.company if deal else (employee.company if employee else None),
            counterparty=deal.counterparty if deal else None,
            deal=deal,
            amount=amount if amount is not None else (deal.amount if deal else None),
            currency=currency,
            status_changed_at=timezone.now(),
        )
        envelope.full_clean()
        envelope.save()
        audit.event_append(
            envelope=envelope,
            actor=responsible,
            type=Event.Type.CREATED,
            data={"document": document.pk},
        )
        _deal_timeline(envelope, "document_created", _("Document created: %s") % envelope.title)
    return envelope


def envelope_create_from_invoice(*, invoice: Invoice, actor: User, language: str) -> Envelope:
    from documents.services import document_create_from_invoice

    with transaction.atomic():
        document = document_create_from_invoice(invoice=invoice, creator=actor, language=language)
        envelope = envelope_create(
            document=document,
            responsible=actor,
            language=language,
            amount=invoice.totals()["gross"],
            currency=invoice.currency,
        )
    return envelope


def envelope_for_document(*, document: Document, actor: User) -> Envelope:
    existing = Envelope.objects.filter(document=document).first()
    if existing is not None:
        return existing
    return envelope_create(document=document, responsible=actor, language=document.language)


@dataclass
class PartyInput:
    role: str
    name: str
    email: str = ""
    phone: str = ""
    channel: str = Party.Channel.EMAIL
    is_company: bool = False


def normalise_phone(raw: str) -> str:
    """E.164 from what a person typed; French numbers may omit the country code."""
    try:
        number = phonenumbers.parse(raw, "FR")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("This is not a phone number.")) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This phone number is not valid."))
    if phonenumbers.number_type(number) not in {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }:
        raise ValidationError(_("Codes and links are sent by SMS: give a mobile number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_party_input(data: PartyInput) -> dict[str, str]:
    """Errors by field name; cleans email and phone in place."""
    errors: dict[str, str] = {}
    data.name = " ".join(data.name.split())
    data.email = data.email.strip()
    data.phone = data.phone.strip()
    if not data.name:
        errors["name"] = _("Enter the signer's name.")
    if data.channel not in Party.Channel.values:
        errors["channel"] = _("Choose email or SMS.")
    if data.email:
        try:
            validate_email(data.email)
        except ValidationError:
            errors["email"] = _("Enter a valid email address.")
    if data.phone:
        try:
            data.phone = normalise_phone(data.phone)
        except ValidationError as exc:
            errors["phone"] = exc.messages[0]
    if data.channel == Party.Channel.EMAIL and not data.email and "email" not in errors:
        errors["email"] = _("An email address is needed to send the link by email.")
    if data.channel == Party.Channel.SMS and not data.phone and "phone" not in errors:
        errors["phone"] = _("A mobile number is needed to send the link by SMS.")
    return errors


def envelope_send(
    *,
    envelope: Envelope,
    actor: User,
    parties: list[PartyInput],
    language: str,
    deadline: datetime,
    reminder_every_days: int = 0,
    reminder_max: int = 3,
    note: str = "",
    require_client_stamp: bool = False,
) -> Envelope:
    """Validate, create the ordered parties, lock the document and invite the first signer."""
    errors: dict[str, Any] = {}
    for index, party in enumerate(parties):
        party_errors = validate_party_input(party)
        if party_errors:
            errors[f"party-{index}"] = party_errors
    if deadline < timezone.now() + timedelta(hours=1):
        errors["deadline"] = _("The deadline must be at least one hour from now.")
    if language not in dict(Envelope.Language.choices):
        errors["language"] = _("Choose French or English.")
    roles = {p.role for p in parties}
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise SigningError("already_sent", _("This document has already been sent."))
        fields = list(Field.objects.filter(document_id=envelope.document_id))
        needed = {f.role for f in fields if f.required}
        missing = needed - roles
        if missing:
            errors["parties"] = _("A required field has no signer able to receive a link: %s.") % (
                ", ".join(str(Field.Role(r).label) for r in sorted(missing))
            )
        if not fields:
            errors["fields"] = _("The document has no field to fill in or sign.")
        if errors:
            raise SendValidationError(errors)
        for order, data in enumerate(parties, start=1):
            Party.objects.create(
                envelope=envelope,
                role=data.role,
                order=order,
                name=data.name,
                email=data.email,
                phone=data.phone,
                channel=data.channel,
                is_company=data.is_company,
            )
        client_is_company = any(p.is_company for p in parties if p.role == Party.Role.CLIENT)
        if not (require_client_stamp and client_is_company):
            # An individual is never asked for a stamp; a company client only when required.
            Field.objects.filter(
                document_id=envelope.document_id, role=Field.Role.CLIENT, kind=Field.Kind.STAMP
            ).update(required=False)
        Document.objects.filter(pk=envelope.document_id).update(locked=True)
        envelope.language = language
        envelope.deadline = deadline
        envelope.reminder_every_days = reminder_every_days
        envelope.reminder_max = reminder_max
        envelope.note = note
        envelope.sent_at = timezone.now()
        envelope.save(
            update_fields=[
                "language",
                "deadline",
                "reminder_every_days",
                "reminder_max",
                "note",
                "sent_at",
            ]
        )
        first = envelope.parties.order_by("order").first()
        assert first is not None
        _set_status(envelope, _status_for(first))
        audit.event_append(
            envelope=envelope,
            actor=actor,
            type=Event.Type.SENT,
            data={"parties": [{"role": p.role, "channel": p.channel} for p in parties]},
        )
        _invite(envelope, first)
        _deal_timeline(envelope, "document_sent", _("Sent for signature: %s") % envelope.title)
    return envelope


class SendValidationError(SigningError):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("invalid", _("Some information is missing or wrong. Check the form."))
        self.errors = errors


def _status_for(party: Party) -> str:
    if party.role == Party.Role.COMPANY:
        return Envelope.Status.AWAITING_COMPANY
    return Envelope.Status.AWAITING_CLIENT
