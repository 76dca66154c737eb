"""Every write that changes an envelope's state.

Each service runs in one transaction with the envelope row locked (`select_for_update`), writes
its audit event and queues its messages in that same transaction. The lock is what keeps two
requests on one envelope from double-signing, skipping the order or sending a message twice.
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.models import DealEvent, Invoice
from documents.models import Document, Field
from signflow.text import clean_text
from signing import audit, record, tokens
from signing.consent import CONSENT_VERSION, consent_text
from signing.models import Envelope, Event, FieldValue, Message, Party
from signing.notifications import message_queue

logger = logging.getLogger(__name__)

Actor = User | AnonymousUser | None


class SigningError(Exception):
    """A rule of the workflow was broken. `code` is stable, `message` is for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


# ---------------------------------------------------------------------------------------------
# The signer's side


LINK_MESSAGES = {
    "invalid": gettext_lazy("This link is not valid. Check that you opened the whole link."),
    "cancelled": gettext_lazy("This signature request was cancelled by the sender."),
    "declined": gettext_lazy("This document was declined; it can no longer be signed."),
    "expired": gettext_lazy("The deadline to sign this document has passed."),
    "not_your_turn": gettext_lazy("It is not your turn to sign yet."),
    "signed": gettext_lazy("You have already signed this document."),
}


def link_problem(party: Party) -> str | None:
    """Why this party cannot act on its document now, or None."""
    envelope = party.envelope
    if envelope.status == Envelope.Status.CANCELLED:
        return "cancelled"
    if envelope.status == Envelope.Status.DECLINED:
        return "declined"
    if envelope.status == Envelope.Status.EXPIRED or (
        envelope.is_open and _deadline_passed(envelope)
    ):
        return "expired"
    if party.status == Party.Status.SIGNED:
        return "signed"
    if party.status != Party.Status.ACTIVE or not envelope.is_open:
        return "not_your_turn"
    return None


def _locked_party(party: Party) -> tuple[Envelope, Party]:
    envelope = _lock(party.envelope_id)
    fresh = Party.objects.select_for_update().get(pk=party.pk)
    fresh.envelope = envelope
    problem = link_problem(fresh)
    if problem:
        raise SigningError(problem, str(LINK_MESSAGES[problem]))
    return envelope, fresh


def party_open(*, party: Party, ip: str | None, user_agent: str) -> None:
    if party.opened_at is not None:
        return
    with transaction.atomic():
        envelope = _lock(party.envelope_id)
        updated = Party.objects.filter(pk=party.pk, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
        if updated:
            audit.event_append(
                envelope=envelope,
                party=party,
                type=Event.Type.LINK_OPENED,
                ip=ip,
                user_agent=user_agent,
            )


def otp_send(*, party: Party, ip: str | None, user_agent: str) -> None:
    with transaction.atomic():
        envelope, party = _locked_party(party)
        now = timezone.now()
        cooldown = timedelta(seconds=settings.SIGNFLOW_OTP_RESEND_COOLDOWN_SECONDS)
        if party.otp_sent_at and now - party.otp_sent_at < cooldown:
            wait = int((party.otp_sent_at + cooldown - now).total_seconds()) + 1
            raise SigningError(
                "code_cooldown",
                _("A code was just sent. You can ask for a new one in %d seconds.") % wait,
            )
        # Five attempts per code and a cooldown still allow thousands of guesses over a link's
        # life; a daily cap on codes keeps guessing the 6 digits out of reach.
        sent_today = Event.objects.filter(
            party=party, type=Event.Type.CODE_SENT, created_at__gte=now - timedelta(days=1)
        ).count()
        if sent_today >= settings.SIGNFLOW_OTP_MAX_CODES_PER_DAY:
            raise SigningError(
                "code_limit",
                _("Too many codes were sent for this link today. Try again tomorrow."),
            )
        code = tokens.new_otp()
        party.otp_hash = tokens.hash_otp(party_id=party.pk, code=code)
        party.otp_sent_at = now
        party.otp_expires_at = now + timedelta(seconds=settings.SIGNFLOW_OTP_TTL_SECONDS)
        party.otp_attempts = 0
        party.save(update_fields=["otp_hash", "otp_sent_at", "otp_expires_at", "otp_attempts"])
        audit.event_append(
            envelope=envelope,
            party=party,
            type=Event.Type.CODE_SENT,
            ip=ip,
            user_agent=user_agent,
            data={"channel": party.channel},
        )
        message_queue(
            envelope=envelope,
            party=party,
            template=Message.Template.CODE,
            channel=party.channel,
            recipient=party.recipient,
            context={
                **_base_context(envelope),
                "code": code,
                "minutes": settings.SIGNFLOW_OTP_TTL_SECONDS // 60,
            },
        )


def otp_confirm(*, party: Party, code: str, ip: str | None, user_agent: str) -> None:
    """Check a code. A wrong code is counted (and audited) even though an error is raised."""
    failure: SigningError | None = None
    with transaction.atomic():
        envelope, party = _locked_party(party)
        now = timezone.now()
        code = "".join(code.split())
        if not party.otp_hash:
            failure = SigningError("code_required", _("Ask for a code first."))
        elif party.otp_expires_at is None or party.otp_expires_at <= now:
            failure = SigningError("code_expired", _("This code has expired. Ask for a new one."))
        elif party.otp_attempts >= settings.SIGNFLOW_OTP_MAX_ATTEMPTS:
            failure = SigningError("code_attempts", _("Too many wrong codes. Ask for a new one."))
        elif not tokens.otp_matches(party_id=party.pk, code=code, stored=party.otp_hash):
            party.otp_attempts += 1
            party.save(update_fields=["otp_attempts"])
            left = settings.SIGNFLOW_OTP_MAX_ATTEMPTS - party.otp_attempts
            audit.event_append(
                envelope=envelope,
                party=party,
                type=Event.Type.CODE_FAILED,
                ip=ip,
                user_agent=user_agent,
                data={"attempt": party.otp_attempts},
            )
            if left > 0:
                failure = SigningError(
                    "code_wrong",
                    ngettext("Wrong code. %d attempt left.", "Wrong code. %d attempts left.", left)
                    % left,
                )
            else:
                failure = SigningError(
                    "code_attempts", _("Too many wrong codes. Ask for a new one.")
                )
        else:
            party.otp_confirmed_at = now
            party.otp_hash = ""
            party.save(update_fields=["otp_confirmed_at", "otp_hash"])
            audit.event_append(
                envelope=envelope,
                party=party,
                type=Event.Type.CODE_CONFIRMED,
                ip=ip,
                user_agent=user_agent,
                data={"channel": party.channel},
            )
    if failure is not None:
        raise failure


@dataclass
class SubmittedValue:
    """What a signer gave for one field: text, or image bytes (PNG) with its method."""

    text: str = ""
    image: bytes | None = None
    method: str = FieldValue.Method.TYPED


def _check_value(field: Field, value: SubmittedValue | None) -> SubmittedValue | None:
    if field.kind == Field.Kind.DATE:
        return None  # filled automatically at signing time
    empty = value is None or (not value.text.strip() and not value.image)
    if empty:
        if field.required:
            raise SigningError(
                "field_missing",
                _("Fill in “%s” before signing.") % (field.label or field.get_kind_display()),
            )
        return None
    assert value is not None
    if field.is_image and not value.image:
        raise SigningError(
            "field_invalid", _("“%s” needs an image.") % (field.label or field.get_kind_display())
        )
    if field.kind == Field.Kind.NUMBER:
        try:
            Decimal(value.text.replace(",", ".").replace(" ", ""))
        except ArithmeticError as exc:
            raise SigningError("field_invalid", _("“%s” must be a number.") % field.label) from exc
    if field.kind == Field.Kind.CHECKBOX:
        value.text = "1" if value.text in {"1", "on", "true"} else ""
        if field.required and not value.text:
            raise SigningError("field_missing", _("Tick “%s” before signing.") % field.label)
    if len(value.text) > 2000:
        raise SigningError("field_invalid", _("“%s” is too long.") % field.label)
    return value


def _write_back(envelope: Envelope, field: Field, value: str) -> None:
    """A CRM field the signer filled in goes back to the counterparty (and the deal's timeline)."""
    from crm.services import counterparty_write_back

    if not value or value == field.prefilled:
        return
    assert envelope.counterparty is not None
    try:
        counterparty_write_back(
            counterparty=envelope.counterparty,
            attribute=field.crm_attribute,
            value=value,
            deal=envelope.deal,
        )
    except ValidationError as exc:
        raise SigningError("field_invalid", " ".join(exc.messages)) from exc


def party_sign(
    *,
    party: Party,
    values: dict[int, SubmittedValue],
    consent: bool,
    code_confirmed_in_session: bool,
    ip: str | None,
    user_agent: str,
) -> Party:
    """Record one party's signature, then invite the next party or start sealing.

    The envelope row lock serialises concurrent submits of the same party: the first one
    records the signature, the others find the party signed and change nothing.
    """
    with transaction.atomic():
        envelope, party = _locked_party(party)
        if not (party.otp_confirmed_at and code_confirmed_in_session):
            raise SigningError("code_required", _("Confirm the code we sent you before signing."))
        if not consent:
            raise SigningError(
                "consent_required", _("Accept the terms of electronic signature to sign.")
            )
        fields = list(Field.objects.filter(document_id=envelope.document_id, role=party.role))
        if not fields:
            raise SigningError(
                "field_missing", _("There is nothing for you to sign in this document.")
            )
        now = timezone.now()
        checked = {f.pk: _check_value(f, values.get(f.pk)) for f in fields}
        methods = set()
        for field in fields:
            value = checked[field.pk]
            if field.kind == Field.Kind.DATE:
                with translation.override(envelope.language):
                    text = date_format(timezone.localtime(now), "SHORT_DATE_FORMAT")
                FieldValue.objects.create(
                    field=field, party=party, text=text, method=FieldValue.Method.AUTO
                )
                continue
            if value is None:
                continue
            row = FieldValue(field=field, party=party, text=value.text.strip(), method=value.method)
            if value.image:
                digest = hashlib.sha256(value.image).hexdigest()
                row.image.save(f"{digest}.png", ContentFile(value.image), save=False)
            row.save()
            if field.kind in {Field.Kind.SIGNATURE, Field.Kind.INITIALS}:
                methods.add(value.method)
            if field.kind == Field.Kind.CRM and field.crm_attribute and envelope.counterparty:
                _write_back(envelope, field, row.text)
            audit.event_append(
                envelope=envelope,
                party=party,
                type=Event.Type.FIELD_FILLED,
                ip=ip,
                user_agent=user_agent,
                data={"field": field.key, "kind": field.kind, "method": value.method},
            )
        party.status = Party.Status.SIGNED
        party.signed_at = now
        party.signed_ip = ip
        party.signed_user_agent = user_agent[:400]
        party.signature_method = ",".join(sorted(methods))
        party.consent_text = consent_text(envelope.language)
        party.consent_version = CONSENT_VERSION
        party.save(
            update_fields=[
                "status",
                "signed_at",
                "signed_ip",
                "signed_user_agent",
                "signature_method",
                "consent_text",
                "consent_version",
            ]
        )
        audit.event_append(
            envelope=envelope,
            party=party,
            type=Event.Type.SIGNED,
            ip=ip,
            user_agent=user_agent,
            # The words agreed to go under the audit chain's hash too.
            data={
                "method": party.signature_method,
                "consent": True,
                "consent_version": party.consent_version,
                "consent_text": party.consent_text,
            },
        )
        _deal_timeline(
            envelope,
            "party_signed",
            _("%(name)s signed %(title)s") % {"name": party.name, "title": envelope.title},
        )
        following = (
            envelope.parties.filter(order__gt=party.order, status=Party.Status.WAITING)
            .order_by("order")
            .first()
        )
        if following is not None:
            _set_status(envelope, _status_for(following))
            _invite(envelope, following)
            _notify_sender(
                envelope,
                Message.Template.PARTY_SIGNED,
                {
                    "signer_name": party.name,
                    "when": _local(now, envelope.language),
                    "next_step": _("The document was sent to %s for signature.") % following.name,
                },
            )
        else:
            _set_status(envelope, Envelope.Status.SEALING)
            audit.event_append(envelope=envelope, type=Event.Type.SEALING_STARTED)
            transaction.on_commit(lambda: _queue_seal(envelope.pk))
    return party


def _queue_seal(envelope_id: int) -> None:
    from signing.tasks import seal_envelope

    try:
        seal_envelope.apply_async(args=(envelope_id,), retry=False)
    except Exception:  # noqa: BLE001 - broker down: the sealing sweep picks it up
        logger.warning("Broker unavailable, envelope %s left for the sealing sweep", envelope_id)


def party_decline(
    *,
    party: Party,
    reason: str,
    code_confirmed_in_session: bool,
    ip: str | None,
    user_agent: str,
) -> None:
    """Close the envelope at the signer's request. Like signing, it needs the confirmed code:
    a link alone (forwarded, seen over a shoulder) must not let anyone decline for the signer."""
    reason = clean_text(reason, multiline=True).strip()
    with transaction.atomic():
        envelope, party = _locked_party(party)
        if not (party.otp_confirmed_at and code_confirmed_in_session):
            raise SigningError("code_required", _("Confirm the code we sent you before declining."))
        if not reason:
            raise SigningError("reason_required", _("Tell the sender why you decline."))
        now = timezone.now()
        party.status = Party.Status.DECLINED
        party.declined_at = now
        party.decline_reason = reason[:2000]
        party.save(update_fields=["status", "declined_at", "decline_reason"])
        envelope.closed_reason = reason[:2000]
        _set_status(envelope, Envelope.Status.DECLINED, "closed_reason")
        audit.event_append(
            envelope=envelope,
            party=party,
            type=Event.Type.DECLINED,
            ip=ip,
            user_agent=user_agent,
            data={"reason": reason[:500]},
        )
        context = {"signer_name": party.name, "reason": reason}
        _notify_sender(envelope, Message.Template.DECLINED, context)
        for earlier in envelope.parties.filter(status=Party.Status.SIGNED):
            message_queue(
                envelope=envelope,
                party=earlier,
                template=Message.Template.DECLINED,
                channel=earlier.channel,
                recipient=earlier.recipient,
                context={**_base_context(envelope), **context},
            )
        _deal_timeline(
            envelope,
            "declined",
            _("%(name)s declined %(title)s: %(reason)s")
            % {"name": party.name, "title": envelope.title, "reason": reason},
        )


# ---------------------------------------------------------------------------------------------
# The sender's side


def envelope_cancel(*, envelope: Envelope, actor: Actor, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise SigningError("reason_required", _("Give a reason for cancelling."))
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        # A document that cannot be sealed is closed too, before a new version is sent.
        cancellable = (
            Envelope.Status.DRAFT,
            *Envelope.OPEN_STATUSES,
            Envelope.Status.SEALING_FAILED,
        )
        if envelope.status not in cancellable:
            raise SigningError(
                "not_cancellable", _("Only a document that is not signed yet can be cancelled.")
            )
        envelope.closed_reason = reason[:2000]
        _set_status(envelope, Envelope.Status.CANCELLED, "closed_reason")
        notify = list(
            envelope.parties.filter(status__in=[Party.Status.ACTIVE, Party.Status.SIGNED])
        )
        audit.event_append(
            envelope=envelope, actor=actor, type=Event.Type.CANCELLED, data={"reason": reason[:500]}
        )
        for party in notify:
            message_queue(
                envelope=envelope,
                party=party,
                template=Message.Template.CANCELLED,
                channel=party.channel,
                recipient=party.recipient,
                context={**_base_context(envelope), "reason": reason},
            )
        _deal_timeline(envelope, "cancelled", _("Signature cancelled: %s") % envelope.title)


REMIND_COOLDOWN = timedelta(hours=1)


def envelope_remind(*, envelope: Envelope, actor: Actor, automatic: bool = False) -> Message:
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        if not envelope.is_open or _deadline_passed(envelope):
            raise SigningError(
                "not_open", _("Only a document waiting for a signature can be reminded.")
            )
        now = timezone.now()
        if (
            not automatic
            and envelope.last_reminded_at
            and now - envelope.last_reminded_at < REMIND_COOLDOWN
        ):
            raise SigningError("remind_cooldown", _("A reminder was sent less than an hour ago."))
        party = envelope.parties.filter(status=Party.Status.ACTIVE).first()
        if party is None:
            raise SigningError("not_open", _("Nobody is waiting to sign."))
        envelope.last_reminded_at = now
        envelope.reminders_sent += 1
        envelope.save(update_fields=["last_reminded_at", "reminders_sent"])
        message = message_queue(
            envelope=envelope,
            party=party,
            template=Message.Template.REMINDER,
            channel=party.channel,
            recipient=party.recipient,
            context={
                **_base_context(envelope),
                "party_name": party.name,
                "link": signing_link(party),
            },
        )
        audit.event_append(
            envelope=envelope,
            party=party,
            actor=actor,
            type=Event.Type.REMINDED,
            data={"automatic": automatic, "count": envelope.reminders_sent},
        )
    return message


def party_reissue(
    *, party: Party, actor: Actor, email: str = "", phone: str = "", channel: str = ""
) -> None:
    """Send the link again, to a corrected address if given. The old link stops working."""
    with transaction.atomic():
        envelope = _lock(party.envelope_id)
        party = Party.objects.select_for_update().get(pk=party.pk)
        if party.status != Party.Status.ACTIVE or not envelope.is_open:
            raise SigningError(
                "not_open", _("Only the signer whose turn it is can get a new link.")
            )
        data = PartyInput(
            role=party.role,
            name=party.name,
            email=email or party.email,
            phone=phone or party.phone,
            channel=channel or party.channel,
        )
        errors = validate_party_input(data)
        if errors:
            raise SigningError("invalid", " ".join(errors.values()))
        party.email, party.phone, party.channel = data.email, data.phone, data.channel
        # The code state starts afresh: the corrected address must get a code at once, not
        # wait out the cooldown of a code sent to the old one.
        party.otp_hash = ""
        party.otp_confirmed_at = None
        party.otp_sent_at = None
        party.otp_expires_at = None
        party.otp_attempts = 0
        party.save(
            update_fields=[
                "email",
                "phone",
                "channel",
                "otp_hash",
                "otp_confirmed_at",
                "otp_sent_at",
                "otp_expires_at",
                "otp_attempts",
            ]
        )
        audit.event_append(
            envelope=envelope,
            party=party,
            actor=actor,
            type=Event.Type.LINK_REISSUED,
            data={"channel": party.channel},
        )
        _invite(envelope, party)


def expire_due() -> int:
    """Envelopes past their deadline become `expired`; their links die."""
    now = timezone.now()
    count = 0
    due = Envelope.objects.filter(status__in=Envelope.OPEN_STATUSES, deadline__lte=now).values_list(
        "pk", flat=True
    )
    for envelope_id in list(due[:500]):
        with transaction.atomic():
            envelope = _lock(envelope_id)
            if not envelope.is_open or not _deadline_passed(envelope):
                continue
            _set_status(envelope, Envelope.Status.EXPIRED)
            active = list(envelope.parties.filter(status=Party.Status.ACTIVE))
            audit.event_append(envelope=envelope, type=Event.Type.EXPIRED)
            for party in active:
                message_queue(
                    envelope=envelope,
                    party=party,
                    template=Message.Template.EXPIRED,
                    channel=party.channel,
                    recipient=party.recipient,
                    context=_base_context(envelope),
                )
            _notify_sender(envelope, Message.Template.EXPIRED, {})
            _deal_timeline(envelope, "expired", _("Signature expired: %s") % envelope.title)
            count += 1
    return count


def reminders_due() -> int:
    now = timezone.now()
    candidates = Envelope.objects.filter(
        status__in=Envelope.OPEN_STATUSES, reminder_every_days__gt=0
    ).filter(Q(deadline__isnull=True) | Q(deadline__gt=now))
    count = 0
    for envelope in candidates.iterator():
        if envelope.reminders_sent >= envelope.reminder_max:
            continue
        last = envelope.last_reminded_at or envelope.status_changed_at or envelope.sent_at
        if last and now - last < timedelta(days=envelope.reminder_every_days):
            continue
        try:
            envelope_remind(envelope=envelope, actor=None, automatic=True)
        except SigningError:
            continue
        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Sealing


def mask_email(email: str) -> str:
    local, _sep, domain = email.partition("@")
    name, _dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{name[:1]}***.{tld}" if domain else ""


def mask_phone(phone: str) -> str:
    return f"{phone[:4]}{'*' * max(len(phone) - 6, 0)}{phone[-2:]}" if phone else ""


def _iso(dt: datetime | None) -> str:
    return dt.astimezone(UTC).isoformat() if dt else ""


def seal_metadata(envelope: Envelope) -> dict[str, Any]:
    parties = []
    for party in envelope.parties.order_by("order"):
        company = ""
        if party.role == Party.Role.COMPANY and envelope.company:
            company = envelope.company.legal_name
        elif party.role == Party.Role.CLIENT and envelope.counterparty and party.is_company:
            company = envelope.counterparty.legal_name
        parties.append(
            {
                "role": party.role,
                "name": party.name,
                "company": company,
                "contact_masked": mask_phone(party.phone)
                if party.channel == "sms"
                else mask_email(party.email),
                "channel": party.channel,
                "otp_confirmed_at": _iso(party.otp_confirmed_at),
                "method": party.signature_method,
                "ip": party.signed_ip or "",
                "user_agent": party.signed_user_agent,
                "opened_at": _iso(party.opened_at),
                "signed_at": _iso(party.signed_at),
                "consent_text": party.consent_text,
                "consent_version": party.consent_version,
                "images": record.party_images(party),
            }
        )
    sender = envelope.responsible
    return {
        "code": envelope.public_id,
        "title": envelope.title,
        "language": envelope.language,
        "original_sha256": envelope.document.sha256,
        # What was taken out of an uploaded file (documents.sanitize): the certificate lists it.
        "removed": envelope.document.sanitized,
        "sender": {
            "name": sender.get_full_name() or sender.get_username(),
            "company": envelope.company.legal_name if envelope.company else "",
        },
        "created_at": _iso(envelope.created_at),
        "sent_at": _iso(envelope.sent_at),
        "audit_head": audit.chain_head(envelope=envelope),
        "parties": parties,
        # Every audit event in order (signing.record): the certificate prints them all.
        "events": record.events_record(envelope),
    }


# Temporary sealing failures (TSA, storage) are retried after 1, 2, 4, 8... minutes, capped at
# an hour; after SEAL_MAX_ATTEMPTS attempts or SEAL_GIVE_UP_AFTER in `sealing` the envelope
# becomes `sealing_failed` and the sender is told, as for a permanent failure.
SEAL_FIRST_RETRY = timedelta(minutes=1)
SEAL_MAX_RETRY = timedelta(hours=1)
SEAL_MAX_ATTEMPTS = 30
SEAL_GIVE_UP_AFTER = timedelta(hours=24)
_SEAL_LOCK_BASE = 0x5EA1 << 32  # PostgreSQL advisory lock keys: this base + envelope id

SEALING_FAILED_WHAT = {
    "input": gettext_lazy("the document"),
    "signer": gettext_lazy("the seal certificate"),
    "tsa": gettext_lazy("the timestamp authority"),
    "storage": gettext_lazy("the file storage"),
}
SEALING_FAILED_ADVICE = {
    "input": gettext_lazy(
        "The document cannot be sealed as it is: cancel this request (the signers are told "
        "why) and send a new version of the document for signature."
    ),
    "signer": gettext_lazy(
        "Contact your administrator: the seal certificate or its key must be fixed. "
        "Then retry sealing."
    ),
    "tsa": gettext_lazy(
        "SignFlow retries on its own. If it keeps failing, contact your administrator "
        "(timestamp authority settings), then retry sealing."
    ),
    "storage": gettext_lazy(
        "SignFlow retries on its own. If it keeps failing, contact your administrator "
        "(file storage), then retry sealing."
    ),
}


def sealing_problem(envelope: Envelope) -> dict[str, Any] | None:
    """What the last sealing attempt ran into, for the envelope page; None when nothing did."""
    from verification.services import SEALING_ERRORS

    if envelope.status not in (Envelope.Status.SEALING, Envelope.Status.SEALING_FAILED):
        return None
    if not envelope.sealing_error_code and not envelope.sealing_error:
        return None
    kind = envelope.sealing_error_kind or "signer"
    known = SEALING_ERRORS.get(envelope.sealing_error_code)
    return {
        "kind": kind,
        "code": envelope.sealing_error_code,
        "what": SEALING_FAILED_WHAT.get(kind, ""),
        "message": known[2] if known else envelope.sealing_error,
        "advice": SEALING_FAILED_ADVICE.get(kind, ""),
        "detail": envelope.sealing_error,
        "failed": envelope.status == Envelope.Status.SEALING_FAILED,
        "next_attempt_at": envelope.seal_next_attempt_at,
        "attempts": envelope.sealing_attempts,
    }


@contextmanager
def _seal_claim(envelope_id: int) -> Iterator[bool]:
    """Whether this process may seal the envelope now.

    On PostgreSQL a session advisory lock keeps two workers (the seal task and the sweep, or
    two sweeps) from flattening, timestamping and signing one envelope at the same time;
    the database drops it when a worker dies, so the next sweep takes over at once. SQLite
    has one writer at a time: there the status checks under the row lock and the registry's
    unique code keep it to one sealed document and one completion.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = _SEAL_LOCK_BASE + envelope_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        claimed = bool(cursor.fetchone()[0])
    try:
        yield claimed
    finally:
        if claimed:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except Exception:  # noqa: BLE001 - a lost connection released it already
                logger.warning("Could not release the seal lock of envelope %s", envelope_id)


def seal_due(now: datetime | None = None) -> list[int]:
    """Envelopes in `sealing` whose next attempt is due (the sweep's work), oldest first."""
    now = now or timezone.now()
    return list(
        Envelope.objects.filter(status=Envelope.Status.SEALING)
        .filter(Q(seal_next_attempt_at__isnull=True) | Q(seal_next_attempt_at__lte=now))
        .order_by("seal_next_attempt_at", "pk")
        .values_list("pk", flat=True)[:50]
    )


def envelope_seal(*, envelope_id: int) -> Envelope:
    """Flatten, seal and register; then complete the envelope and send the sealed PDF.

    The slow part (rendering, PAdES, timestamp) runs outside the row lock, under the seal
    claim (one sealer per envelope); `seal_prepared` is idempotent by envelope code, and
    completion re-checks the status under the lock, so two seal tasks complete it once.
    A failure is recorded on the envelope (see `_seal_failed`), never raised.
    """
    with _seal_claim(envelope_id) as claimed:
        if not claimed:
            return Envelope.objects.get(pk=envelope_id)
        return _seal(envelope_id)


def _flatten(envelope: Envelope) -> bytes:
    """The document with every value drawn; any failure says what failed."""
    from documents.flatten import FlattenValue, flatten_pdf
    from verification.services import SealingError

    try:
        values = []
        for value in FieldValue.objects.filter(party__envelope_id=envelope.pk).select_related(
            "field"
        ):
            image = None
            if value.image:
                with value.image.open("rb") as fh:
                    image = fh.read()
            values.append(FlattenValue(field=value.field, text=value.text, image=image))
        return flatten_pdf(document=envelope.document, values=values)
    except SealingError:
        raise
    except OSError as exc:
        raise SealingError("storage_failed", f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        logger.warning("Flattening envelope %s failed", envelope.pk, exc_info=True)
        raise SealingError("input_flatten_failed", f"{type(exc).__name__}: {exc}") from exc


def _discard_stale_preparation(sha256: str) -> None:
    from verification.services import prepared_path

    try:
        default_storage.delete(prepared_path(sha256))
    except OSError:  # only disk space is at stake
        logger.warning("Could not delete the stale prepared file %s", sha256, exc_info=True)


def _seal(envelope_id: int) -> Envelope:
    from verification.services import (
        SealingError,
        discard_prepared,
        load_prepared,
        prepare_seal,
        seal_prepared,
    )

    with transaction.atomic():
        envelope = _lock(envelope_id)
        if envelope.status != Envelope.Status.SEALING:
            return envelope
        if envelope.seal_next_attempt_at and envelope.seal_next_attempt_at > timezone.now():
            return envelope  # backing off after a temporary failure: not due yet
        envelope.sealing_attempts += 1
        envelope.save(update_fields=["sealing_attempts"])
        stored = envelope.seal_prepared
        metadata = seal_metadata(envelope)
    try:
        prepared = load_prepared(stored)
        if prepared is None:
            prepared = prepare_seal(pdf_bytes=_flatten(envelope), metadata=metadata)
            Envelope.objects.filter(pk=envelope_id, status=Envelope.Status.SEALING).update(
                seal_prepared=prepared.as_dict()
            )
            stale = str(stored.get("sha256") or "") if stored else ""
            if stale and stale != prepared.sha256:  # e.g. prepared for another TSA
                _discard_stale_preparation(stale)
        sealed = seal_prepared(prepared=prepared)
    except SealingError as exc:
        return _seal_failed(envelope_id, exc)
    with transaction.atomic():
        envelope = _lock(envelope_id)
        if envelope.status != Envelope.Status.SEALING:
            return envelope
        transaction.on_commit(lambda: discard_prepared(prepared))
        envelope.seal_prepared = {}
        envelope.seal_next_attempt_at = None
        envelope.sealing_error_kind = ""
        envelope.sealing_error_code = ""
        envelope.save(
            update_fields=[
                "seal_prepared",
                "seal_next_attempt_at",
                "sealing_error_kind",
                "sealing_error_code",
            ]
        )
        envelope.sealed = sealed
        envelope.completed_at = timezone.now()
        envelope.sealing_error = ""
        _set_status(envelope, Envelope.Status.COMPLETED, "sealed", "completed_at", "sealing_error")
        audit.event_append(
            envelope=envelope, type=Event.Type.SEALED, data={"sha256": sealed.sha256}
        )
        retention = _local(
            envelope.completed_at + timedelta(days=settings.SIGNFLOW_DOWNLOAD_RETENTION_DAYS),
            envelope.language,
        )
        verify_link = f"{settings.SIGNFLOW_BASE_URL}/verify/{sealed.code}/"
        for party in envelope.parties.order_by("order"):
            message_queue(
                envelope=envelope,
                party=party,
                template=Message.Template.COMPLETED,
                channel=party.channel,
                recipient=party.recipient,
                attach_sealed=party.channel == Party.Channel.EMAIL,
                context={
                    **_base_context(envelope),
                    "verify_link": verify_link,
                    "download_link": signing_link(party) + "download/",
                    "retention": retention,
                },
            )
        if envelope.responsible.email:
            message_queue(
                envelope=envelope,
                template=Message.Template.COMPLETED,
                channel=Party.Channel.EMAIL,
                recipient=envelope.responsible.email,
                attach_sealed=True,
                context={
                    **_base_context(envelope),
                    "verify_link": verify_link,
                    "download_link": "",
                    "retention": "",
                },
            )
        _deal_timeline(
            envelope, "signed", _("Signed by every party and sealed: %s") % envelope.title
        )
    return envelope


def _seal_failed(envelope_id: int, exc: Exception) -> Envelope:
    """Record a failed attempt: back off after a temporary error, else stop and tell the sender.

    Under the row lock and only while `sealing`: a concurrent attempt that completed the
    envelope wins, and the sender is told once.
    """
    from verification.services import SealingError

    error = exc if isinstance(exc, SealingError) else SealingError("seal_failed", str(exc))
    with transaction.atomic():
        envelope = _lock(envelope_id)
        if envelope.status != Envelope.Status.SEALING:
            return envelope
        now = timezone.now()
        envelope.sealing_error = (error.detail or error.code)[:2000]
        envelope.sealing_error_kind = error.kind
        envelope.sealing_error_code = error.code
        started = envelope.status_changed_at or now
        give_up = (
            error.permanent
            or envelope.sealing_attempts >= SEAL_MAX_ATTEMPTS
            or now - started >= SEAL_GIVE_UP_AFTER
        )
        data: dict[str, Any] = {
            "kind": error.kind,
            "code": error.code,
            "permanent": error.permanent,
            "attempt": envelope.sealing_attempts,
            "error": (error.detail or error.code)[:300],
        }
        fields = ["sealing_error", "sealing_error_kind", "sealing_error_code"]
        if not give_up:
            delay = min(
                SEAL_FIRST_RETRY * 2 ** max(envelope.sealing_attempts - 1, 0), SEAL_MAX_RETRY
            )
            envelope.seal_next_attempt_at = now + delay
            envelope.save(update_fields=[*fields, "seal_next_attempt_at"])
            data["retry_at"] = _iso(envelope.seal_next_attempt_at)
            audit.event_append(envelope=envelope, type=Event.Type.SEALING_FAILED, data=data)
            logger.warning(
                "Sealing envelope %s failed (%s), retry at %s",
                envelope_id,
                error.code,
                envelope.seal_next_attempt_at,
            )
            return envelope
        envelope.seal_next_attempt_at = None
        _set_status(envelope, Envelope.Status.SEALING_FAILED, *fields, "seal_next_attempt_at")
        data["final"] = True
        audit.event_append(envelope=envelope, type=Event.Type.SEALING_FAILED, data=data)
        with translation.override(envelope.language):
            context = {
                "what": str(SEALING_FAILED_WHAT.get(error.kind, "")),
                "problem": error.message,
                "advice": str(SEALING_FAILED_ADVICE.get(error.kind, "")),
                "envelope_link": f"{settings.SIGNFLOW_BASE_URL}"
                f"{reverse('signing:envelope_detail', args=[envelope.pk])}",
            }
        _notify_sender(envelope, Message.Template.SEALING_FAILED, context)
        _deal_timeline(envelope, "sealing_failed", _("Sealing failed: %s") % envelope.title)
        logger.error("Sealing envelope %s failed for good: %s", envelope_id, error)
    return envelope


def envelope_retry_sealing(*, envelope: Envelope, actor: Actor) -> None:
    """The sender or a manager asks for a new sealing attempt after fixing the cause."""
    with transaction.atomic():
        locked = _lock(envelope.pk)
        if locked.status != Envelope.Status.SEALING_FAILED:
            raise SigningError("not_sealing_failed", _("This envelope is not waiting for a retry."))
        after = locked.sealing_error_code
        # A fresh start: a full backoff sequence and 24 hours again, no stale error shown.
        locked.sealing_attempts = 0
        locked.seal_next_attempt_at = None
        locked.sealing_error = locked.sealing_error_kind = locked.sealing_error_code = ""
        _set_status(
            locked,
            Envelope.Status.SEALING,
            "sealing_attempts",
            "seal_next_attempt_at",
            "sealing_error",
            "sealing_error_kind",
            "sealing_error_code",
        )
        audit.event_append(
            envelope=locked,
            actor=actor if isinstance(actor, User) else None,
            type=Event.Type.SEALING_STARTED,
            data={"retry": True, "after": after},
        )
        transaction.on_commit(lambda: _queue_seal(locked.pk))


def download_available(envelope: Envelope) -> bool:
    if envelope.status != Envelope.Status.COMPLETED or envelope.completed_at is None:
        return False
    return timezone.now() < envelope.completed_at + timedelta(
        days=settings.SIGNFLOW_DOWNLOAD_RETENTION_DAYS
    )
