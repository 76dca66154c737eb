"""Who may see a document's pages and edit its fields."""

from django.contrib.auth.models import AnonymousUser

from documents.access import can_edit_fields, can_view_document
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, upload


def make_document(user):
    return document_create_from_upload(uploaded_file=upload(blank_pdf()), title="C", creator=user)


def test_the_creator_may_view_their_document(sender):
    assert can_view_document(sender, make_document(sender))


def test_a_manager_may_view_anyones_document(sender, manager):
    assert can_view_document(manager, make_document(sender))


def test_a_colleague_who_is_not_a_manager_may_not_view_it(sender, colleague):
    assert not can_view_document(colleague, make_document(sender))


def test_a_user_without_an_employee_record_may_not_view_it(sender, outsider):
    assert not can_view_document(outsider, make_document(sender))


def test_an_anonymous_visitor_may_not_view_it(sender):
    assert not can_view_document(AnonymousUser(), make_document(sender))


def test_a_deactivated_creator_may_not_view_it(sender):
    document = make_document(sender)
    sender.is_active = False
    assert not can_view_document(sender, document)


def test_nobody_may_edit_the_fields_of_a_locked_document(sender, manager):
    document = make_document(sender)
    assert can_edit_fields(sender, document)
    document.locked = True
    assert not can_edit_fields(sender, document)
    assert not can_edit_fields(manager, document)
