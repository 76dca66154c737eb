"""Who may see and change what in the CRM. One condition per line; every branch is tested.

- A user without an Employee profile sees nothing.
- A manager sees and edits everything, and alone manages own companies and the pipeline.
- An employee sees and edits the deals they are responsible for (and those deals' invoices),
  and may look up and edit counterparties and contacts, which every deal needs.
"""

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from crm.models import Deal, Employee, Invoice

M = TypeVar("M", bound=Model)


def employee_of(user: Any) -> Employee | None:
    """The one definition of an employee: an active, logged-in user with an Employee profile
    (documents.access and signing.access use it; the profile is cached on the user object, so
    asking again costs no query)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    try:
        return user.employee
    except Employee.DoesNotExist:
        return None


def is_employee(user: Any) -> bool:
    return employee_of(user) is not None


def is_manager(user: Any) -> bool:
    """The one definition of a manager: an employee whose profile says so."""
    employee = employee_of(user)
    if employee is None:
        return False
    return employee.is_manager


def owned_visible_to(user: Any, queryset: QuerySet[M], owner_field: str) -> QuerySet[M]:
    """The one rule of an employee's own records (deals, envelopes, batches): an employee sees
    those whose `owner_field` is them, a manager sees all, anyone else nothing."""
    employee = employee_of(user)
    if employee is None:
        return queryset.none()
    if employee.is_manager:
        return queryset
    return queryset.filter(**{owner_field: user.pk})


def owns_or_manages(user: Any, owner_id: int | None) -> bool:
    """`owned_visible_to` for one record, given its owner's id."""
    employee = employee_of(user)
    if employee is None:
        return False
    if employee.is_manager:
        return True
    return owner_id == user.pk


def deals_visible_to(user: Any) -> QuerySet[Deal]:
    return owned_visible_to(user, Deal.objects.all(), "responsible_id")


def can_view_deal(user: Any, deal: Deal) -> bool:
    return owns_or_manages(user, deal.responsible_id)


def can_edit_deal(user: Any, deal: Deal) -> bool:
    # Same rule as viewing today; kept apart so that read-only access can be added later.
    return can_view_deal(user, deal)


def can_reassign_deal(user: Any) -> bool:
    """Choosing another responsible employee is a manager's call."""
    return is_manager(user)


def invoices_visible_to(user: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(deal__in=deals_visible_to(user))


def can_view_invoice(user: Any, invoice: Invoice) -> bool:
    return can_view_deal(user, invoice.deal)


def can_edit_invoice(user: Any, invoice: Invoice) -> bool:
    return can_edit_deal(user, invoice.deal)


def can_use_crm(user: Any) -> bool:
    """Counterparties and contacts: any employee (a deal needs a client to be created)."""
    return employee_of(user) is not None


def can_manage_companies(user: Any) -> bool:
    return is_manager(user)


def can_manage_stages(user: Any) -> bool:
    return is_manager(user)
