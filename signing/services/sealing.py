"""Sealing a completed envelope: claim, flatten, seal, store, record failures with backoff."""

from __future__ import annotations

import gc
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from signing import audit, record
from signing.models import Envelope, Event, Message, Party
from signing.notifications import message_queue
from signing.services._common import (
    Actor,
    SigningConflict,
    _base_context,
    _crm_follow_signature,
    _deal_timeline,
    _local,
    _lock,
    _notify_sender,
    _set_status,
    message_party,
    signing_link,
)
from signing.services.signing import _queue_seal

logger = logging.getLogger(__name__)


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


def _flatten(envelope: Envelope, into: IO[bytes]) -> None:
    """The document with every value drawn and unfilled fields erased, written to `into`;
    any failure says what failed."""
    from documents import flatten
    from signing.services.viewing import filled_values
    from verification.services import SealingError

    try:
        values = filled_values(envelope)
        flatten.flatten_pdf(document=envelope.document, values=values, erase=True, into=into)
    except SealingError:
        raise
    except OSError as exc:
        raise SealingError("storage_failed", f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        logger.warning("Flattening envelope %s failed", envelope.pk, exc_info=True)
        raise SealingError("input_flatten_failed", f"{type(exc).__name__}: {exc}") from exc


def _prepare(envelope: Envelope, metadata: dict[str, Any]) -> Any:
    """Flatten to a temporary file and prepare the seal from it (verification.prepare_seal)."""
    from verification.services import LARGE_FILE, prepare_seal

    with tempfile.TemporaryFile(prefix="signflow-flat-") as flat:
        _flatten(envelope, flat)
        if flat.tell() > LARGE_FILE:
            gc.collect()  # pypdf's object graph of a large file: gone before the next step
        return prepare_seal(pdf_bytes=flat, metadata=metadata)


def _discard_stale_preparation(sha256: str) -> None:
    from verification.services import prepared_path

    try:
        default_storage.delete(prepared_path(sha256))
    except OSError:  # only disk space is at stake
        logger.warning("Could not delete the stale prepared file %s", sha256, exc_info=True)


def _seal(envelope_id: int) -> Envelope:
    """One attempt: count it, produce the sealed document, complete the envelope.

    Every failure, whatever raised it, is recorded on the envelope with an audit event
    (`_seal_failed`): a temporary one is retried by the sweep, never lost in a log.
    """
    with transaction.atomic():
        envelope = _lock(envelope_id)
        if envelope.status != Envelope.Status.SEALING:
            return envelope
        if envelope.seal_next_attempt_at and envelope.seal_next_attempt_at > timezone.now():
            return envelope  # backing off after a temporary failure: not due yet
        envelope.sealing_attempts += 1
        envelope.save(update_fields=["sealing_attempts"])
    try:
        with transaction.atomic():
            stored = envelope.seal_prepared
            metadata = seal_metadata(envelope)
        prepared, sealed = _seal_document(envelope, stored, metadata)
        return _complete(envelope_id, prepared, sealed)
    except Exception as exc:
        # A token away is an expected outage: its reason, recorded below, says it all.
        token_error = getattr(exc, "code", "") == "signer_keys"
        logger.warning("Sealing envelope %s failed", envelope_id, exc_info=not token_error)
        return _seal_failed(envelope_id, exc)


def _seal_document(envelope: Envelope, stored: dict, metadata: dict[str, Any]) -> tuple[Any, Any]:
    """The prepared file (reused from an earlier attempt when it can be) and its sealed copy."""
    from verification.services import load_prepared, seal_prepared

    prepared = load_prepared(stored)
    if prepared is None:
        prepared = _prepare(envelope, metadata)
        Envelope.objects.filter(pk=envelope.pk, status=Envelope.Status.SEALING).update(
            seal_prepared=prepared.as_dict()
        )
        stale = str(stored.get("sha256") or "") if stored else ""
        if stale and stale != prepared.sha256:  # e.g. prepared for another TSA
            _discard_stale_preparation(stale)
    return prepared, seal_prepared(prepared=prepared)


def _complete(envelope_id: int, prepared: Any, sealed: Any) -> Envelope:
    """The envelope is completed with its sealed document, and everyone is sent the PDF."""
    from verification.services import discard_prepared

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
        envelope.completed_at = completed_at = timezone.now()
        envelope.sealing_error = ""
        _set_status(envelope, Envelope.Status.COMPLETED, "sealed", "completed_at", "sealing_error")
        audit.event_append(
            envelope=envelope, type=Event.Type.SEALED, data={"sha256": sealed.sha256}
        )
        _send_completion(envelope, sealed, completed_at)
        # The invoice becomes Signed and the deal moves on in this same transaction.
        _crm_follow_signature(envelope)
    return envelope


def _send_completion(envelope: Envelope, sealed: Any, completed_at: datetime) -> None:
    """The sealed PDF (or its link) to every party and to the sender."""
    retention = _local(
        completed_at + timedelta(days=settings.SIGNFLOW_DOWNLOAD_RETENTION_DAYS),
        envelope.language,
    )
    verify_link = f"{settings.SIGNFLOW_BASE_URL}/verify/{sealed.code}/"
    for party in envelope.parties.order_by("order"):
        message_party(
            envelope,
            party,
            Message.Template.COMPLETED,
            attach_sealed=party.channel == Party.Channel.EMAIL,
            verify_link=verify_link,
            download_link=signing_link(party) + "download/",
            retention=retention,
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


def _seal_failed(envelope_id: int, exc: Exception) -> Envelope:
    """Record a failed attempt: back off after a temporary error, else stop and tell the sender.

    Under the row lock and only while `sealing`: a concurrent attempt that completed the
    envelope wins, and the sender is told once.
    """
    from verification.services import SealingError

    error = exc if isinstance(exc, SealingError) else _unclassified(exc)
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
        _tell_sender_sealing_failed(envelope, error)
        logger.error("Sealing envelope %s failed for good: %s", envelope_id, error)
    return envelope


def _unclassified(exc: Exception) -> Any:
    """A failure raised outside the sealing service: a token error is the seal key's."""
    from verification import keys
    from verification.services import SealingError

    token_reason = keys.token_failure(exc)
    if token_reason is not None:
        return SealingError("signer_keys", token_reason)
    return SealingError("seal_failed", str(exc))


def _tell_sender_sealing_failed(envelope: Envelope, error: Any) -> None:
    """The sender's message (what failed, what to do) and the deal's timeline entry."""
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


def envelope_retry_sealing(*, envelope: Envelope, actor: Actor) -> None:
    """The sender or a manager asks for a new sealing attempt after fixing the cause."""
    with transaction.atomic():
        locked = _lock(envelope.pk)
        if locked.status != Envelope.Status.SEALING_FAILED:
            raise SigningConflict(
                "not_sealing_failed", _("This envelope is not waiting for a retry.")
            )
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
