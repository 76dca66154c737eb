"""Reads of bulk send that other apps use through hooks (the board's batch filter)."""

from typing import Any

from django.db.models import Q
from django.utils import formats

from bulk.access import batches_visible_to
from bulk.models import Batch
from signing.selectors import BatchHook

BOARD_CHOICES = 100


def board_batch_choices(user: Any) -> list[tuple[int, str]]:
    """The most recent batches the user may see that were sent, labelled for the filter."""
    batches = (
        batches_visible_to(user)
        .exclude(status=Batch.Status.DRAFT)
        .order_by("-id")
        .only("pk", "title", "created_at")[:BOARD_CHOICES]
    )
    return [
        (b.pk, f"{b.title} ({formats.date_format(b.created_at, 'SHORT_DATE_FORMAT')})")
        for b in batches
    ]


def board_batch_condition(batch_id: int) -> Q:
    return Q(bulk_row__batch_id=batch_id)


def board_batch_hook() -> BatchHook:
    return BatchHook(choices=board_batch_choices, condition=board_batch_condition)
