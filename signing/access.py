"""Who may see and act on an envelope. One condition per line; each branch is tested."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from crm import access as crm_access
from documents.models import Document
from signing.models import Envelope

# crm.access holds the one definition of an employee and of a manager.
_employee = crm_access.employee_of
is_employee = crm_access.is_employee
is_manager = crm_access.is_manager


def visible_envelopes(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Envelope]:
    employee = _employee(user)
    if employee is None:
        return Envelope.objects.none()
    if employee.is_manager:
        return Envelope.objects.all()
    return Envelope.objects.filter(responsible_id=user.pk)


def can_view_envelope(user: AbstractBaseUser | AnonymousUser, envelope: Envelope) -> bool:
    employee = _employee(user)
    if employee is None:
        return False
    if employee.is_manager:
        return True
    return envelope.responsible_id == user.pk


def can_act_on_envelope(user: AbstractBaseUser | AnonymousUser, envelope: Envelope) -> bool:
    """Send, remind, reissue, cancel: the responsible employee or a manager."""
    return can_view_envelope(user, envelope)


def can_start_envelope(user: AbstractBaseUser | AnonymousUser, document: Document) -> bool:
    """Start the first envelope on a document that has none yet: only the document's creator
    (the send page and the API's envelope creation ask the same question)."""
    return user.is_authenticated and document.created_by_id == user.pk
