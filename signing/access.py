"""Who may see and act on an envelope. One condition per line; each branch is tested."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from crm import access as crm_access
from documents.models import Document
from signing.models import Envelope

# crm.access holds the one definition of an employee and of a manager.
is_employee = crm_access.is_employee
is_manager = crm_access.is_manager


def visible_envelopes(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Envelope]:
    return crm_access.owned_visible_to(user, Envelope.objects.all(), "responsible_id")


def can_view_envelope(user: AbstractBaseUser | AnonymousUser, envelope: Envelope) -> bool:
    return crm_access.owns_or_manages(user, envelope.responsible_id)


def can_act_on_envelope(user: AbstractBaseUser | AnonymousUser, envelope: Envelope) -> bool:
    """Send, remind, reissue, cancel: the responsible employee or a manager."""
    return can_view_envelope(user, envelope)


def can_start_envelope(user: AbstractBaseUser | AnonymousUser, document: Document) -> bool:
    """Start the first envelope on a document that has none yet: only the document's creator
    (the send page and the API's envelope creation ask the same question)."""
    return user.is_authenticated and document.created_by_id == user.pk
