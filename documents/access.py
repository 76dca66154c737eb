"""Who may see and change a document. One condition per line; each branch is tested."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from crm import access as crm_access
from documents.models import Document, DocumentTemplate, FieldLayout

# crm.access holds the one definition of an employee and of a manager.
is_manager = crm_access.is_manager
is_employee = crm_access.is_employee


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


def can_view_template(user: AbstractBaseUser | AnonymousUser, template: DocumentTemplate) -> bool:
    """Built-in templates: every employee. Others: their creator, or any manager."""
    if not is_employee(user):
        return False
    if template.builtin:
        return True
    if template.created_by_id == user.pk:
        return True
    return is_manager(user)


def can_edit_template(user: AbstractBaseUser | AnonymousUser, template: DocumentTemplate) -> bool:
    """Built-in templates are read-only (duplicate them); the company's default: managers;
    others: creator or manager."""
    if template.builtin:
        return False
    if template.is_default_for_invoices and not is_manager(user):
        return False
    return can_view_template(user, template)


def can_set_default(user: AbstractBaseUser | AnonymousUser, template: DocumentTemplate) -> bool:
    """Choosing (or changing) what every invoice of the company prints is a manager's call."""
    if not is_manager(user):
        return False
    return can_view_template(user, template)


def can_use_layout(user: AbstractBaseUser | AnonymousUser, layout: FieldLayout) -> bool:
    """A field layout belongs to the employee who saved it."""
    if not is_employee(user):
        return False
    return layout.created_by_id == user.pk
