"""Who may see and change a document. One condition per line; each branch is tested."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from crm.models import Employee
from documents.models import Document


def is_manager(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    try:
        employee = Employee.objects.get(user_id=user.pk)
    except Employee.DoesNotExist:
        return False
    return employee.is_manager


def can_view_document(user: AbstractBaseUser | AnonymousUser, document: Document) -> bool:
    """The document's creator, or any manager."""
    if not user.is_authenticated:
        return False
    if not user.is_active:
        return False
    if document.created_by_id == user.pk:
        return True
    return is_manager(user)


def can_edit_fields(user: AbstractBaseUser | AnonymousUser, document: Document) -> bool:
    """Those who may view it, while it is not locked (sent for signature)."""
    if document.locked:
        return False
    return can_view_document(user, document)
