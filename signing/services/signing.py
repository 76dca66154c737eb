"""A party signs or declines: values checked, written back, the next party invited."""

from __future__ import annotations

import datetime
import hashlib
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from documents.models import Field
from signflow.errors import SignFlowError
from signflow.text import clean_text
from signing import audit
from signing.consent import CONSENT_VERSION, consent_text
from signing.models import Envelope, Event, FieldValue, Message, Party
from signing.services._common import (
    SigningError,
    _deal_timeline,
    _invite,
    _local,
    _notify_sender,
    _set_status,
    message_party,
)
from signing.services.codes import _locked_party
from signing.services.sending import _status_for

logger = logging.getLogger(__name__)


@dataclass
class SubmittedValue:
    """What a signer gave for one field: text, or image bytes (PNG) with its method."""

    text: str = ""
    image: bytes | None = None
    method: str = FieldValue.Method.TYPED


def mention_key(text: str) -> str:
    """A mention as compared: accents and case ignored (NFKD, combining marks dropped,
    casefold), quotes and punctuation around words ignored, spaces collapsed:
    « Bon pour accord » == "bon pour ACCORD." == "Bon pour accord"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = "".join(c if c.isalnum() else " " for c in bare)
    return " ".join(words.split())


def _shown_name(field: Field) -> str:
    return field.label or field.get_kind_display()


def _check_number(field: Field, value: SubmittedValue) -> None:
    try:
        Decimal(value.text.replace(",", ".").replace(" ", ""))
    except ArithmeticError as exc:
        raise SigningError("field_invalid", _("“%s” must be a number.") % field.label) from exc


def _check_checkbox(field: Field, value: SubmittedValue) -> None:
    value.text = "1" if value.text in {"1", "on", "true"} else ""
    if field.required and not value.text:
        raise SigningError("field_missing", _("Tick “%s” before signing.") % field.label)


def _check_mention(field: Field, value: SubmittedValue) -> None:
    if field.phrase and mention_key(value.text) != mention_key(field.phrase):
        raise SigningError(
            "field_invalid",
            _("Type “%(phrase)s” in “%(field)s”.")
            % {"phrase": field.phrase, "field": _shown_name(field)},
            fields={f"field-{field.pk}": [_("Type “%s”.") % field.phrase]},
        )


# What each kind of field checks beyond "given" and "not too long" (checkbox also normalises).
_KIND_CHECKS: dict[str, Callable[[Field, SubmittedValue], None]] = {
    Field.Kind.NUMBER: _check_number,
    Field.Kind.CHECKBOX: _check_checkbox,
    Field.Kind.MENTION: _check_mention,
}


def _check_value(field: Field, value: SubmittedValue | None) -> SubmittedValue | None:
    if field.kind == Field.Kind.DATE:
        return None  # filled automatically at signing time
    if value is None or (not value.text.strip() and not value.image):
        if field.required:
            raise SigningError(
                "field_missing", _("Fill in “%s” before signing.") % _shown_name(field)
            )
        return None
    if field.is_image and not value.image:
        raise SigningError("field_invalid", _("“%s” needs an image.") % _shown_name(field))
    kind_check = _KIND_CHECKS.get(field.kind)
    if kind_check is not None:
        kind_check(field, value)
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
    except SignFlowError as exc:
        raise SigningError("field_invalid", exc.message) from exc


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
        _check_may_sign(party, consent=consent, code_confirmed=code_confirmed_in_session)
        fields = list(Field.objects.filter(document_id=envelope.document_id, role=party.role))
        if not fields:
            raise SigningError(
                "field_missing", _("There is nothing for you to sign in this document.")
            )
        now = timezone.now()
        checked = {f.pk: _check_value(f, values.get(f.pk)) for f in fields}
        seen = _Seen(ip=ip, user_agent=user_agent)
        methods = set()
        for field in fields:
            method = _store_value(envelope, party, field, checked[field.pk], now=now, seen=seen)
            if method is not None and field.kind in {Field.Kind.SIGNATURE, Field.Kind.INITIALS}:
                methods.add(method)
        _mark_signed(envelope, party, methods=methods, now=now, seen=seen)
        _after_signature(envelope, party, now=now)
    return party


@dataclass(frozen=True)
class _Seen:
    """Where the signature came from, as the audit trail records it."""

    ip: str | None
    user_agent: str


def _check_may_sign(party: Party, *, consent: bool, code_confirmed: bool) -> None:
    if not (party.otp_confirmed_at and code_confirmed):
        raise SigningError("code_required", _("Confirm the code we sent you before signing."))
    if not consent:
        raise SigningError(
            "consent_required", _("Accept the terms of electronic signature to sign.")
        )


def _store_value(
    envelope: Envelope,
    party: Party,
    field: Field,
    value: SubmittedValue | None,
    *,
    now: datetime.datetime,
    seen: _Seen,
) -> str | None:
    """Write one field's value (a date field gets today's); the method used, None if none."""
    if field.kind == Field.Kind.DATE:
        with translation.override(envelope.language):
            text = date_format(timezone.localtime(now), "SHORT_DATE_FORMAT")
        FieldValue.objects.create(
            field=field, party=party, text=text, method=FieldValue.Method.AUTO
        )
        return None
    if value is None:
        return None
    row = FieldValue(field=field, party=party, text=value.text.strip(), method=value.method)
    if value.image:
        digest = hashlib.sha256(value.image).hexdigest()
        row.image.save(f"{digest}.png", ContentFile(value.image), save=False)
    row.save()
    if field.kind == Field.Kind.CRM and field.crm_attribute and envelope.counterparty:
        _write_back(envelope, field, row.text)
    audit.event_append(
        envelope=envelope,
        party=party,
        type=Event.Type.FIELD_FILLED,
        ip=seen.ip,
        user_agent=seen.user_agent,
        data={"field": field.key, "kind": field.kind, "method": value.method},
    )
    return value.method


def _mark_signed(
    envelope: Envelope, party: Party, *, methods: set[str], now: datetime.datetime, seen: _Seen
) -> None:
    party.status = Party.Status.SIGNED
    party.signed_at = now
    party.signed_ip = seen.ip
    party.signed_user_agent = seen.user_agent[:400]
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
        ip=seen.ip,
        user_agent=seen.user_agent,
        # The words agreed to go under the audit chain's hash too.
        data={
            "method": party.signature_method,
            "consent": True,
            "consent_version": party.consent_version,
            "consent_text": party.consent_text,
        },
    )


def _after_signature(envelope: Envelope, party: Party, *, now: datetime.datetime) -> None:
    """The deal's timeline, then the next party's invitation or, after the last, sealing."""
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
    if following is None:
        _set_status(envelope, Envelope.Status.SEALING)
        audit.event_append(envelope=envelope, type=Event.Type.SEALING_STARTED)
        transaction.on_commit(lambda: _queue_seal(envelope.pk))
        return
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
        context: dict[str, Any] = {"signer_name": party.name, "reason": reason}
        _notify_sender(envelope, Message.Template.DECLINED, context)
        for earlier in envelope.parties.filter(status=Party.Status.SIGNED):
            message_party(envelope, earlier, Message.Template.DECLINED, **context)
        _deal_timeline(
            envelope,
            "declined",
            _("%(name)s declined %(title)s: %(reason)s")
            % {"name": party.name, "title": envelope.title, "reason": reason},
        )
