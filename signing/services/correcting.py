"""Correcting an envelope nobody has signed yet: recipients, channels, fields, deadline, message.

Two steps, both under the envelope's row lock so that a signature and a correction never
interleave (whichever takes the lock first wins; the other is refused):

- `envelope_correction_open` (only to change the fields): every link dies at once (its hash is
  cleared, and each party waits), and the document is unlocked for the field editor. The
  fields as they were go into the `correction_started` event, to say later what changed.
- `envelope_correct`: the new contacts, deadline and message are checked and stored, the
  document is locked again, every party gets a new nonce (the old links stay dead even where
  nothing changed), the code state starts afresh, and the first party still to sign is invited
  again. The `corrected` event records what changed.

After the first signature, only a contact correction of the signer whose turn it is remains
possible (lifecycle.party_reissue), as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.models import Document, Field
from signing import audit, tokens
from signing.models import Envelope, Event, Party
from signing.services._common import SigningConflict, SigningError, _invite, _lock
from signing.services.sending import (
    PartyInput,
    SendValidationError,
    _parties_and_deadline_errors,
    _status_for,
)

CORRECTABLE_PARTY = ("name", "email", "phone", "channel")
_FIELD_KEYS = ("kind", "role", "page", "x", "y", "width", "height", "required", "label", "phrase")


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def correction_problem(envelope: Envelope) -> str | None:
    """Why this envelope cannot be corrected now, or None (read without the lock: for pages)."""
    if not envelope.is_open:
        return "not_open"
    if envelope.parties.filter(status=Party.Status.SIGNED).exists():
        return "already_signed"
    return None


def correction_in_progress(envelope: Envelope) -> bool:
    """An open envelope whose document is unlocked: its fields are being corrected."""
    return envelope.is_open and not envelope.document.locked


def _check_correctable(envelope: Envelope) -> None:
    problem = correction_problem(envelope)
    if problem == "already_signed":
        raise SigningConflict(
            "already_signed",
            _(
                "Someone has already signed: only the contact details of the signer whose "
                "turn it is can be corrected now."
            ),
        )
    if problem:
        raise SigningConflict(
            "not_open", _("Only a document waiting for its first signature can be corrected.")
        )


def _field_snapshot(document_id: int) -> dict[str, dict[str, Any]]:
    return {
        field.key: {name: getattr(field, name) for name in _FIELD_KEYS}
        for field in Field.objects.filter(document_id=document_id)
    }


def _kill_links(envelope: Envelope) -> None:
    """Every link of the envelope stops working now, and every code with it."""
    for party in envelope.parties.select_for_update():
        party.token_nonce = tokens.new_nonce()
        party.token_hash = ""
        party.otp_hash = ""
        party.otp_confirmed_at = None
        party.otp_sent_at = None
        party.otp_expires_at = None
        party.otp_attempts = 0
        if party.status == Party.Status.ACTIVE:
            party.status = Party.Status.WAITING
        party.save(
            update_fields=[
                "token_nonce",
                "token_hash",
                "otp_hash",
                "otp_confirmed_at",
                "otp_sent_at",
                "otp_expires_at",
                "otp_attempts",
                "status",
            ]
        )


def envelope_correction_open(*, envelope: Envelope, actor: User) -> Envelope:
    """Unlock the document for the field editor; every link dies until the correction is sent."""
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        _check_correctable(envelope)
        document = Document.objects.select_for_update().get(pk=envelope.document_id)
        if not document.locked:
            return envelope  # already open: a second click changes nothing
        _kill_links(envelope)
        document.locked = False
        document.save(update_fields=["locked"])
        envelope.document = document
        audit.event_append(
            envelope=envelope,
            actor=actor,
            type=Event.Type.CORRECTION_STARTED,
            data={"fields": _field_snapshot(document.pk)},
        )
    return envelope


def _fields_before(envelope: Envelope) -> dict[str, dict[str, Any]] | None:
    started = envelope.events.filter(type=Event.Type.CORRECTION_STARTED).order_by("-id").first()
    if started is None:
        return None
    return dict(started.data.get("fields", {}))


def _field_changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> dict[str, list[str]]:
    changes = {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(
            key
            for key in set(before) & set(after)
            if any(before[key].get(name) != after[key].get(name) for name in _FIELD_KEYS)
        ),
    }
    return {name: keys for name, keys in changes.items() if keys}


def envelope_correct(
    *,
    envelope: Envelope,
    actor: User,
    parties: list[PartyInput],
    deadline: datetime,
    note: str,
) -> Envelope:
    """Store the corrected contacts, deadline and message; new links to the signers.

    `parties` gives the new details of each party, in signing order (roles and order do not
    change). SendValidationError with errors by input, like the send screen.
    """
    errors = _parties_and_deadline_errors(parties, deadline)
    note = note.strip()[:1000]
    with transaction.atomic():
        # The lock that party_sign takes too: a signature and a correction never interleave.
        envelope = _lock(envelope.pk)
        _check_correctable(envelope)
        existing = list(envelope.parties.select_for_update().order_by("order"))
        if [p.role for p in parties] != [p.role for p in existing]:
            raise SigningError("invalid", _("The signers of this document cannot be changed."))
        document = Document.objects.select_for_update().get(pk=envelope.document_id)
        errors.update(_correction_field_errors(document, roles={p.role for p in existing}))
        if errors:
            raise SendValidationError(errors)
        changes: dict[str, Any] = {}
        party_changes = _update_parties(existing, parties)
        if party_changes:
            changes["parties"] = party_changes
        changes.update(_envelope_changes(envelope, document, deadline=deadline, note=note))
        if not document.locked:
            document.locked = True
            document.save(update_fields=["locked"])
        envelope.deadline = deadline
        envelope.note = note
        envelope.save(update_fields=["deadline", "note"])
        _restart_signing(envelope, actor, changes)
    return envelope


def _correction_field_errors(document: Document, *, roles: set[str]) -> dict[str, Any]:
    fields = list(Field.objects.filter(document_id=document.pk))
    missing = {f.role for f in fields if f.required} - roles
    if not fields:
        return {"fields": _("The document has no field to fill in or sign.")}
    if missing:
        return {
            "fields": _("A required field has no signer: %s.")
            % ", ".join(str(Field.Role(role).label) for role in sorted(missing))
        }
    return {}


def _update_parties(existing: list[Party], parties: list[PartyInput]) -> list[dict[str, Any]]:
    """Each party takes its corrected details; what changed, party by party (for the audit)."""
    changes = []
    for party, data in zip(existing, parties, strict=True):
        changed = [
            name for name in CORRECTABLE_PARTY if getattr(party, name) != getattr(data, name)
        ]
        if changed:
            changes.append({"role": party.role, "order": party.order, "changed": changed})
        party.name, party.email, party.phone = data.name, data.email, data.phone
        party.channel = data.channel
        party.save(update_fields=list(CORRECTABLE_PARTY))
    return changes


def _envelope_changes(
    envelope: Envelope, document: Document, *, deadline: datetime, note: str
) -> dict[str, Any]:
    """The deadline, message and fields changes of this correction (for the audit)."""
    changes: dict[str, Any] = {}
    if envelope.deadline != deadline:
        changes["deadline"] = {"from": _iso(envelope.deadline), "to": _iso(deadline)}
    if envelope.note != note:
        changes["message"] = True
    before = _fields_before(envelope) if not document.locked else None
    if before is not None:
        field_changes = _field_changes(before, _field_snapshot(document.pk))
        if field_changes:
            changes["fields"] = field_changes
    return changes


def _restart_signing(envelope: Envelope, actor: User, changes: dict[str, Any]) -> None:
    """Every old link dies, changed or not; then the first party still to sign is invited."""
    _kill_links(envelope)
    first = envelope.parties.filter(status=Party.Status.WAITING).order_by("order").first()
    assert first is not None  # nobody has signed, so every party waits
    envelope.status = _status_for(first)
    envelope.status_changed_at = timezone.now()
    envelope.save(update_fields=["status", "status_changed_at"])
    audit.event_append(
        envelope=envelope, actor=actor, type=Event.Type.CORRECTED, data={"changes": changes}
    )
    _invite(envelope, first)
