"""Thin Celery interfaces: load by id, call the service, retry policy here."""

import logging

from celery import shared_task

from signing import notifications, services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_message(message_id: int) -> str:
    return notifications.deliver(message_id=message_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return notifications.sweep()


@shared_task(bind=True, ignore_result=True, max_retries=8)
def seal_envelope(self, envelope_id: int) -> None:  # type: ignore[no-untyped-def]
    from verification.services import SealingError

    try:
        services.envelope_seal(envelope_id=envelope_id)
    except SealingError as exc:
        # The envelope stays in `sealing` with the error visible; retry with backoff.
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc


@shared_task(ignore_result=True)
def sweep_sealing() -> int:
    """Seal envelopes left in `sealing` (broker outage, worker crash, exhausted retries)."""
    from signing.models import Envelope

    count = 0
    for envelope_id in Envelope.objects.filter(status=Envelope.Status.SEALING).values_list(
        "pk", flat=True
    )[:50]:
        try:
            services.envelope_seal(envelope_id=envelope_id)
            count += 1
        except Exception:  # noqa: BLE001 - recorded on the envelope; next sweep tries again
            logger.warning("Sealing envelope %s failed", envelope_id, exc_info=True)
    return count


@shared_task(ignore_result=True)
def expire_envelopes() -> int:
    return services.expire_due()


@shared_task(ignore_result=True)
def send_reminders() -> int:
    return services.reminders_due()
