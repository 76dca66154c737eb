"""Housekeeping of the API (Celery beat)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from api.models import IdempotentRequest

# How long an Idempotency-Key is remembered: retries come within minutes, a day is generous.
IDEMPOTENCY_KEEP = timedelta(hours=24)


@shared_task(ignore_result=True)
def purge_idempotent_requests() -> int:
    """Forget stored answers older than a day (their keys become free again)."""
    deleted, _by_model = IdempotentRequest.objects.filter(
        created_at__lt=timezone.now() - IDEMPOTENCY_KEEP
    ).delete()
    return deleted
