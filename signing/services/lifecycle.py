"""After sending: cancel, remind, correct a contact (reissue), retry a failed message, expire,
automatic reminders."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from signing import audit, selectors
from signing.models import Envelope, Event, Message, Party
from signing.notifications import dispatch
from signing.services._common import (
    Actor,
    SigningConflict,
    SigningError,
    _deadline_passed,
    _deal_timeline,
    _invite,
    _lock,
    _notify_sender,
    _set_status,
    message_party,
    signing_link,
)
from signing.services.sending import PartyInput, validate_party_input

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
            raise SigningConflict(
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
            message_party(envelope, party, Message.Template.CANCELLED, reason=reason)
        _deal_timeline(envelope, "cancelled", _("Signature cancelled: %s") % envelope.title)


REMIND_COOLDOWN = timedelta(hours=1)


def envelope_remind(*, envelope: Envelope, actor: Actor, automatic: bool = False) -> Message:
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        if not envelope.is_open or _deadline_passed(envelope):
            raise SigningConflict(
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
            raise SigningConflict("not_open", _("Nobody is waiting to sign."))
        envelope.last_reminded_at = now
        envelope.reminders_sent += 1
        envelope.save(update_fields=["last_reminded_at", "reminders_sent"])
        message = message_party(
            envelope,
            party,
            Message.Template.REMINDER,
            party_name=party.name,
            link=signing_link(party),
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
            raise SigningConflict(
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


def message_retry(*, envelope: Envelope, message_id: int, actor: Actor) -> Message:
    """Queue a failed message again, as a fresh series of attempts (without resetting them,
    one more provider failure would mark it failed again at once).

    Under the envelope lock and only from `failed`: two clicks on Retry (the board's card and
    the envelope page, or two tabs) queue the message once; the second is told why not.
    """
    with transaction.atomic():
        envelope = _lock(envelope.pk)
        message = (
            Message.objects.select_for_update()
            .filter(pk=message_id, envelope_id=envelope.pk)
            .first()
        )
        if message is None:
            raise SigningError("message_not_found", _("This message does not exist."))
        if message.status != Message.Status.FAILED:
            raise SigningConflict(
                "message_not_failed",
                _("This message has not failed: it is already queued or sent."),
            )
        message.status = Message.Status.QUEUED
        message.next_attempt_at = None
        message.attempts = 0
        message.save(update_fields=["status", "next_attempt_at", "attempts"])
        audit.event_append(
            envelope=envelope,
            party=message.party,
            actor=actor,
            type=Event.Type.MESSAGE_QUEUED,
            data={
                "message": message.pk,
                "template": message.template,
                "channel": message.channel,
                "retry": True,
            },
        )
        transaction.on_commit(lambda: dispatch(message.pk))
    return message


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
                message_party(envelope, party, Message.Template.EXPIRED)
            _notify_sender(envelope, Message.Template.EXPIRED, {})
            _deal_timeline(envelope, "expired", _("Signature expired: %s") % envelope.title)
            count += 1
    return count


def reminders_due() -> int:
    """Send every reminder that is due (the rule: `selectors.reminder_due_q`)."""
    now = timezone.now()
    count = 0
    for envelope in Envelope.objects.filter(selectors.reminder_due_q(now)).iterator():
        try:
            envelope_remind(envelope=envelope, actor=None, automatic=True)
        except SigningError:
            continue
        count += 1
    return count
