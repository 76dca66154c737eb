"""A signer opens the link: link problems, the first view, the one-time code (send, confirm)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from signing import audit, tokens
from signing.models import Envelope, Event, Message, Party
from signing.services._common import (
    SigningConflict,
    SigningError,
    _deadline_passed,
    _lock,
    message_party,
)

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
        raise SigningConflict(problem, str(LINK_MESSAGES[problem]))
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
        message_party(
            envelope,
            party,
            Message.Template.CODE,
            code=code,
            minutes=settings.SIGNFLOW_OTP_TTL_SECONDS // 60,
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
