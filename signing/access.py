"""Who may see and act on an envelope. One condition per line; each branch is tested."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from signing.models import Envelope


def _employee(user: AbstractBaseUser | AnonymousUser):  # type: ignore[no-untyped-def]
    if not user.is_authenticated:
        return None
    return getattr(user, "employee", None)


def is_employee(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _employee(user) is not None


def is_manager(user: AbstractBaseUser | AnonymousUser) -> bool:
    employee = _employee(user)
    return employee is not None and employee.is_manager


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
