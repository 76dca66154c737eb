"""Creating an envelope and sending it: parties checked, links issued, invitations queued."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Deal, Invoice
from documents.models import Document, DocumentTemplate, Field
from documents.templatetags.signflow_fields import default_label
from signing import audit
from signing.models import Envelope, Event, Party
from signing.services._common import (
    SigningConflict,
    SigningError,
    _deal_timeline,
    _invite,
    _lock,
    _set_status,
)

# ---------------------------------------------------------------------------------------------
# Creating and sending


def envelope_create(
    *,
    document: Document,
    responsible: User,
    language: str = "fr",
    amount: Decimal | None = None,
    currency: str = "EUR",
    source_key: str = "",
    replaces: Envelope | None = None,
) -> Envelope:
    """A draft envelope for a document, with the CRM links the document carries.

    With a `source_key`, the database refuses a second current envelope for the same source
    (IntegrityError): callers go through `_open_once`, which reopens the existing one.
    """
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
            source_key=source_key,
        )
        # The constraint is checked by the database on insert, not here: two concurrent
        # clicks both pass a Python check.
        envelope.full_clean(validate_constraints=False)
        envelope.save()
        data: dict[str, Any] = {"document": document.pk}
        if replaces is not None:
            data.update(replaces=replaces.public_id, reason=replaces.closed_reason[:500])
        audit.event_append(envelope=envelope, actor=responsible, type=Event.Type.CREATED, data=data)
        _deal_timeline(envelope, "document_created", actor=responsible)
    return envelope


# ---------------------------------------------------------------------------------------------
# One document per source: "Send for signature" on an invoice (or a deal's template) reopens the
# source's current envelope; starting over is explicit (discard the draft, or cancel and send a
# new version). The database enforces it (Envelope.Meta.constraints).


def invoice_source(invoice_id: int) -> str:
    return f"invoice:{invoice_id}"


def template_source(deal_id: int, template_id: int) -> str:
    return f"deal:{deal_id}:template:{template_id}"


def current_envelope(source_key: str) -> Envelope | None:
    """The source's draft, envelope in progress or signed envelope, if any."""
    if not source_key:
        return None
    return Envelope.objects.filter(
        source_key=source_key, status__in=Envelope.CURRENT_STATUSES
    ).first()


def _open_once(source_key: str, make: Callable[[], Envelope]) -> Envelope:
    """The source's current envelope, or the one `make` creates. When several requests create
    at once, the database lets one insert through; the others roll their document back and
    reopen the winner's envelope."""
    existing = current_envelope(source_key)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return make()
    except IntegrityError:
        existing = current_envelope(source_key)
        if existing is None:  # another constraint failed: not ours to hide
            raise
        return existing


def _document_for_source(*, source_key: str, creator: Any, language: str) -> Document:
    """Render the source's document in `language` (invoice, or a deal's template)."""
    from documents.services import document_create_from_invoice, document_create_from_template

    parts = source_key.split(":")
    if parts[0] == "invoice":
        invoice = Invoice.objects.select_related("deal", "company").get(pk=int(parts[1]))
        return document_create_from_invoice(invoice=invoice, creator=creator, language=language)
    deal = Deal.objects.get(pk=int(parts[1]))
    template = DocumentTemplate.objects.get(pk=int(parts[3]))
    return document_create_from_template(
        template=template,
        context={},
        title=f"{template.name} — {deal.title}",
        creator=creator,
        language=language,
        deal=deal,
    )


def _create_for_source(
    *, source_key: str, actor: User, language: str, replaces: Envelope | None = None
) -> Envelope:
    document = _document_for_source(source_key=source_key, creator=actor, language=language)
    invoice = document.invoice
    return envelope_create(
        document=document,
        responsible=actor,
        language=language,
        amount=invoice.totals()["gross"] if invoice else None,
        currency=invoice.currency if invoice else "EUR",
        source_key=source_key,
        replaces=replaces,
    )


def envelope_open_for_invoice(*, invoice: Invoice, actor: User, language: str) -> Envelope:
    """The invoice's current envelope (draft, in progress or signed), else a new draft with the
    invoice rendered in `language`. Never a second one, however many clicks."""
    key = invoice_source(invoice.pk)
    return _open_once(
        key, lambda: _create_for_source(source_key=key, actor=actor, language=language)
    )


# Older name, kept for callers (demo, bench): it reopens too.
envelope_create_from_invoice = envelope_open_for_invoice


def envelope_open_for_template(*, deal: Deal, template: DocumentTemplate, actor: User) -> Envelope:
    """The deal's current envelope made from `template`, else a new draft rendered from it."""
    key = template_source(deal.pk, template.pk)
    return _open_once(
        key,
        lambda: _create_for_source(source_key=key, actor=actor, language=template.language),
    )


def envelope_discard_draft(*, envelope: Envelope, actor: User) -> None:
    """Throw away a draft that was never sent (its document too); the deal's timeline keeps
    a line. Nothing left the company, so nothing else needs to remember it."""
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise SigningConflict(
                "not_draft",
                _("Only a draft can be discarded. Cancel a document that was already sent."),
            )
        _deal_timeline(envelope, "document_discarded", actor=actor)
        document = envelope.document
        envelope.delete()
        _delete_document(document)


def envelope_replace(*, envelope: Envelope, actor: User, reason: str) -> Envelope:
    """Cancel a document in progress (with its reason, audited and told to the signers) and
    prepare a new version from the same source, as a draft to review and send."""
    from signing.services.lifecycle import envelope_cancel

    if not envelope.source_key:
        raise SigningError(
            "no_source",
            _("Only a document made from an invoice or a template can be sent as a new version."),
        )
    with transaction.atomic():
        envelope_cancel(envelope=envelope, actor=actor, reason=reason)
        envelope.refresh_from_db()
        key = envelope.source_key
        old = envelope
        return _open_once(
            key,
            lambda: _create_for_source(
                source_key=key, actor=actor, language=old.language, replaces=old
            ),
        )


def _lock_draft(envelope_id: int) -> Envelope:
    """`_lock` for a draft whose document another change may replace: the row is locked alone
    first. Locked with its document joined, a row whose document changed while it waited would
    be skipped by PostgreSQL's recheck (DoesNotExist) and the document read stale."""
    list(Envelope.objects.select_for_update().filter(pk=envelope_id).values_list("pk"))
    return _lock(envelope_id)


def envelope_set_language(
    *,
    envelope: Envelope,
    actor: User,
    language: str,
) -> Envelope:
    """Change a draft's document language now (the send screen then shows the document as it
    will be sent); sending in another language does the same. A change is recorded in the
    envelope's audit trail (`language_changed`, with the languages and the documents)."""
    if language not in dict(Envelope.Language.choices):
        raise SigningError("language", _("Choose French or English."))
    with transaction.atomic():
        envelope = _lock_draft(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise SigningConflict("already_sent", _("This document has already been sent."))
        before = {"language": envelope.language, "document": envelope.document_id}
        if envelope.document.language == language and envelope.language == language:
            return envelope
        _document_in_language(envelope, language)
        if envelope.language != language:
            envelope.language = language
            envelope.save(update_fields=["language"])
        audit.event_append(
            envelope=envelope,
            actor=actor,
            type=Event.Type.LANGUAGE_CHANGED,
            data={
                "from": before["language"],
                "to": language,
                "document_before": before["document"],
                "document": envelope.document_id,
            },
        )
    return envelope


def _delete_document(document: Document) -> None:
    """Delete a document nobody refers to any more; its file goes once no document shares it
    (files are stored by content hash)."""
    name = document.pdf.name
    try:
        document.delete()
    except ProtectedError:  # something else holds on to it: keep it
        return

    def delete_file() -> None:
        if name and not Document.objects.filter(pdf=name).exists():
            default_storage.delete(name)

    transaction.on_commit(delete_file)


# The default labels a field may carry, as written in a document's language (documents.services
# default_upload_fields and the built-in templates); a label someone typed is left alone.
_DEFAULT_LABELS = ("Signature", "Company stamp", "Client signature", "Client stamp", "Date")


def _relabel(field: Field, old: str, new: str) -> str:
    for label in (*_DEFAULT_LABELS, None):
        with translation.override(old):
            before = _(label) if label else default_label(field.kind, field.role)
        if field.label == before:
            with translation.override(new):
                return _(label) if label else default_label(field.kind, field.role)
    return field.label


def _document_in_language(envelope: Envelope, language: str) -> None:
    """Make the draft's document speak `language`: the document language decides the PDF,
    its money and dates, its title and field labels, the messages and the certificate page.

    A document made from a source is rendered again in that language (its fields are placed
    again by the template); an uploaded PDF cannot be rewritten, its default field labels are.
    """
    document = envelope.document
    if document.language == language:
        return
    if envelope.source_key:
        new = _document_for_source(
            source_key=envelope.source_key, creator=document.created_by, language=language
        )
        envelope.document = new
        envelope.title = new.title
        envelope.save(update_fields=["document", "title"])
        _delete_document(document)
        return
    for field in Field.objects.filter(document=document):
        label = _relabel(field, document.language, language)
        if label != field.label:
            Field.objects.filter(pk=field.pk).update(label=label)
    Document.objects.filter(pk=document.pk).update(language=language)
    document.language = language


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
    errors = _send_input_errors(parties, language=language, deadline=deadline)
    with transaction.atomic():
        envelope = _lock_draft(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise SigningConflict("already_sent", _("This document has already been sent."))
        if "language" not in errors:
            _document_in_language(envelope, language)
        fields = list(Field.objects.filter(document_id=envelope.document_id))
        errors.update(_send_field_errors(fields, roles={p.role for p in parties}))
        if errors:
            raise SendValidationError(errors)
        _create_parties(envelope, parties)
        _drop_unasked_client_stamp(envelope, parties, require_client_stamp=require_client_stamp)
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
        _start_signing(envelope, actor, parties)
    return envelope


def _parties_and_deadline_errors(parties: list[PartyInput], deadline: datetime) -> dict[str, Any]:
    """What is wrong with the signers and the deadline a person gave (send or correct), by
    input; cleans each party's email and phone in place."""
    errors: dict[str, Any] = {}
    for index, party in enumerate(parties):
        party_errors = validate_party_input(party)
        if party_errors:
            errors[f"party-{index}"] = party_errors
    if deadline < timezone.now() + timedelta(hours=1):
        errors["deadline"] = _("The deadline must be at least one hour from now.")
    return errors


def _send_input_errors(
    parties: list[PartyInput], *, language: str, deadline: datetime
) -> dict[str, Any]:
    """What is wrong in the send form itself (each party, deadline, language), by field."""
    errors = _parties_and_deadline_errors(parties, deadline)
    if language not in dict(Envelope.Language.choices):
        errors["language"] = _("Choose French or English.")
    return errors


def _send_field_errors(fields: list[Field], *, roles: set[str]) -> dict[str, Any]:
    """Every required field has a signer, and there is something to sign."""
    errors: dict[str, Any] = {}
    missing = {f.role for f in fields if f.required} - roles
    if missing:
        errors["parties"] = _("A required field has no signer able to receive a link: %s.") % (
            ", ".join(str(Field.Role(r).label) for r in sorted(missing))
        )
    if not fields:
        errors["fields"] = _("The document has no field to fill in or sign.")
    return errors


def _create_parties(envelope: Envelope, parties: list[PartyInput]) -> None:
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


def _drop_unasked_client_stamp(
    envelope: Envelope, parties: list[PartyInput], *, require_client_stamp: bool
) -> None:
    """Our company decides whether a company client is asked for its stamp
    (OwnCompany.ask_client_stamp, or `require_client_stamp` from the API); an individual never
    is. A stamp that is not asked for is no field at all: no input on the signer's page, no
    empty box on the sealed PDF."""
    client_is_company = any(p.is_company for p in parties if p.role == Party.Role.CLIENT)
    company_asks = bool(envelope.company and envelope.company.ask_client_stamp)
    if not (client_is_company and (require_client_stamp or company_asks)):
        Field.objects.filter(
            document_id=envelope.document_id, role=Field.Role.CLIENT, kind=Field.Kind.STAMP
        ).delete()


def _start_signing(envelope: Envelope, actor: User, parties: list[PartyInput]) -> None:
    """The envelope waits for its first party, who is invited; audit and deal timeline."""
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
    _deal_timeline(envelope, "document_sent", actor=actor)


class SendValidationError(SigningError):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("invalid", _("Some information is missing or wrong. Check the form."))
        self.errors = errors


def _status_for(party: Party) -> str:
    if party.role == Party.Role.COMPANY:
        return Envelope.Status.AWAITING_COMPANY
    return Envelope.Status.AWAITING_CLIENT
