"""A worker SIGKILLed in the middle of an email, an SMS or a seal, and what happens next.

Sending is at least once: a message whose worker died stays claimed (`sending`) until the
claim is ten minutes old; the next outbox sweep (every minute under beat) gives it back to the
queue and sends it. If the provider had already accepted it when the worker died, the
recipient gets it twice. Sealing is exactly once: the envelope stays in `sealing`, the sealing
sweep seals it again, and the registry never holds two documents for one envelope.
"""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from signing import audit
from signing.models import Envelope, Event, Message, Party
from signing.tasks import seal_envelope, sweep_outbox, sweep_sealing
from tests.faults.conftest import Workers, needs_worker, send_invoice, sign_as, wait_for
from tests.faults.providers import delivered
from verification.models import SealedDocument
from verification.services import verify_pdf

pytestmark = needs_worker

STALE_CLAIM = timedelta(minutes=10)  # signing.notifications.sweep gives such claims back


def _sweep_and_wait(message: Message, status: str, timeout: float = 30.0) -> bool:
    """Run the outbox sweep in the worker, as beat does every minute."""
    sweep_outbox.apply_async()
    return wait_for(
        lambda: Message.objects.filter(pk=message.pk, status=status).exists(), timeout=timeout
    )


@pytest.mark.parametrize(
    ("channel", "moment", "copies"),
    [
        ("email", "before", 1),  # killed before the provider took it: sent once, later
        ("email", "after", 2),  # the provider took it, the worker died before noting it: twice
        ("sms", "before", 1),
        ("sms", "after", 2),
    ],
)
def test_a_message_whose_worker_was_killed_is_sent_again_after_the_claim_goes_stale(
    workers: Workers, sender_client: Client, invoice, channel: str, moment: str, copies: int
):
    first = workers.start(block=f"{channel}-{moment}")
    envelope = send_invoice(sender_client, invoice, channel=channel)
    invitation = Message.objects.get(envelope=envelope, template="invitation")
    assert wait_for(workers.blocked.exists), "the provider was never called"

    # The worker is inside the provider call; the message is claimed by it.
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.SENDING
    assert invitation.attempts == 1
    workers.kill(first)
    killed_at = timezone.now()
    assert len(delivered(workers.log)) == copies - 1

    # A new worker and the sweep: a fresh claim is left alone (it may be a slow provider).
    workers.start()
    sweep_outbox.apply_async()
    time.sleep(2)
    invitation.refresh_from_db()
    assert invitation.status == Message.Status.SENDING
    Message.objects.filter(pk=invitation.pk).update(claimed_at=killed_at - STALE_CLAIM / 2)
    assert not _sweep_and_wait(invitation, Message.Status.SENT, timeout=3)

    # Ten minutes after the claim, the sweep gives the message back to the queue and sends it.
    Message.objects.filter(pk=invitation.pk).update(
        claimed_at=killed_at - STALE_CLAIM - timedelta(seconds=1)
    )
    started = time.monotonic()
    assert _sweep_and_wait(invitation, Message.Status.SENT)
    resent_in = time.monotonic() - started
    invitation.refresh_from_db()
    assert invitation.attempts == 2
    assert resent_in < 30, resent_in  # at the first sweep after the window, not later

    recipient = invitation.recipient
    sent = [entry for entry in delivered(workers.log) if entry["to"] == recipient]
    assert len(sent) == copies, sent
    # The audit trail records one send, whatever the provider did before the kill.
    assert (
        Event.objects.filter(
            envelope=envelope, type="message_sent", data__message=invitation.pk
        ).count()
        == 1
    )
    # The envelope flow goes on: the signer's link works.
    assert envelope.parties.get(role="company").status == Party.Status.ACTIVE


@pytest.mark.parametrize("moment", ["seal-timestamp", "seal-registered"])
def test_a_worker_killed_while_sealing_ends_with_exactly_one_sealed_document(
    workers: Workers, sent_envelope: Envelope, settings_keys, moment: str
):
    first = workers.start(block=moment)
    company = sent_envelope.parties.get(role=Party.Role.COMPANY)
    client = sent_envelope.parties.get(role=Party.Role.CLIENT)
    assert wait_for(
        lambda: Message.objects.filter(
            envelope=sent_envelope, template="invitation", status=Message.Status.SENT
        ).exists()
    )
    sign_as(company)
    sign_as(client)
    assert wait_for(workers.blocked.exists, timeout=90), "the seal never started"
    workers.kill(first)

    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.SEALING
    registered_before = SealedDocument.objects.filter(code=sent_envelope.public_id).count()
    assert registered_before == (1 if moment == "seal-registered" else 0)

    # A new worker; the sealing sweep (beat, every two minutes) picks the envelope up again.
    workers.start()
    sweep_sealing.apply_async()
    assert wait_for(
        lambda: Envelope.objects.filter(
            pk=sent_envelope.pk, status=Envelope.Status.COMPLETED
        ).exists(),
        timeout=90,
    )
    # The original seal task comes back too (Redis redelivers an unacknowledged task after
    # its visibility timeout): it finds the envelope completed and changes nothing.
    seal_envelope.apply_async(args=(sent_envelope.pk,))
    time.sleep(3)

    sent_envelope.refresh_from_db()
    sealed = SealedDocument.objects.filter(code=sent_envelope.public_id)
    assert sealed.count() == 1
    assert sent_envelope.sealed_id == sealed.get().pk
    assert sent_envelope.events.filter(type=Event.Type.SEALED).count() == 1
    # Each party and the sender get one completion message.
    completed = Message.objects.filter(envelope=sent_envelope, template="completed")
    assert completed.count() == 3
    with sealed.get().file.open("rb") as fh:
        assert verify_pdf(data=fh, sha256=sealed.get().sha256).verdict == "authentic"
    assert audit.chain_check(envelope=sent_envelope).ok


@pytest.fixture
def settings_keys(settings, media_root: Path) -> None:
    # A keys folder of this test's own, outside MEDIA_ROOT; the worker gets it (_worker_env).
    settings.SIGNFLOW_KEYS_DIR = media_root.parent / "keys"
    assert settings.SIGNFLOW_KEYS_DIR
