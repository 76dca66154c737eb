"""Who may see and act on a bulk send. One condition per line; each branch is tested.

The rule is the envelopes' (signing.access): an employee sees the batches they uploaded, a
manager (crm.access holds the one definition) sees every batch; whoever sees a batch may send,
cancel or remind it.
"""

from typing import Any

from django.db.models import QuerySet

from bulk.models import Batch
from crm import access as crm_access


def can_use_bulk(user: Any) -> bool:
    return crm_access.employee_of(user) is not None


def batches_visible_to(user: Any) -> QuerySet[Batch]:
    return crm_access.owned_visible_to(user, Batch.objects.all(), "created_by_id")


def can_view_batch(user: Any, batch: Batch) -> bool:
    return crm_access.owns_or_manages(user, batch.created_by_id)


def can_act_on_batch(user: Any, batch: Batch) -> bool:
    """Map, send, cancel, remind: the employee who uploaded it or a manager."""
    return can_view_batch(user, batch)
