"""Celery tasks of the verification app (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from verification import archive


@shared_task(name="verification.tasks.add_archive_timestamps", ignore_result=True)
def add_archive_timestamps() -> int:
    """Daily: archive-timestamp every sealed document whose newest timestamp expires soon."""
    return archive.add_archive_timestamps()
