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


@shared_task(ignore_result=True)
def seal_envelope(envelope_id: int) -> None:
    # Failures are recorded on the envelope with their backoff (services._seal_failed);
    # the sealing sweep retries when the next attempt is due.
    services.envelope_seal(envelope_id=envelope_id)


@shared_task(ignore_result=True)
def sweep_sealing() -> int:
    """Seal envelopes left in `sealing` whose next attempt is due (broker outage, worker
    crash, a temporary TSA or storage failure backing off)."""
    count = 0
    for envelope_id in services.seal_due():
        try:
            services.envelope_seal(envelope_id=envelope_id)
            count += 1
        except Exception:  # noqa: BLE001 - e.g. the database went away; next sweep tries again
            logger.warning("Sealing envelope %s failed", envelope_id, exc_info=True)
    return count


@shared_task(ignore_result=True)
def expire_envelopes() -> int:
    return services.expire_due()


@shared_task(ignore_result=True)
def send_reminders() -> int:
    return services.reminders_due()
