"""Field layouts: save a document's fields, place them on the next upload in two clicks."""

import pytest
from django.test import Client
from django.urls import reverse

from documents import services
from documents.errors import DocumentError
from documents.models import Document, FieldLayout
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, stored_files, upload

pytestmark = pytest.mark.urls("tests.documents.urlconf")
LETTER = (612.0, 792.0)


@pytest.fixture
def document(sender):
    document = document_create_from_upload(
        uploaded_file=upload(blank_pdf(2)), title="Contrat", creator=sender
    )
    # Move the client's signature and add a date on page 1, as an employee would.
    services.field_update(field=document.fields.get(key="client-signature"), x=300, y=100)
    services.field_create(
        document=document, kind="date", role="client", page=1, x=50, y=700, width=100, height=20
    )
    return document


@pytest.fixture
def layout(document, sender):
    return services.layout_save(document=document, name="Contrat de maintenance", creator=sender)


def rectangles(document: Document) -> set[tuple]:
    return {
        (f.kind, f.role, f.page, f.x, f.y, f.width, f.height, f.required)
        for f in document.fields.all()
    }


def test_a_saved_layout_holds_the_fields_and_the_page_sizes(layout, document):
    assert len(layout.fields) == 4
    assert layout.pages == [[595.28, 841.89], [595.28, 841.89]]
    client_signature = next(f for f in layout.fields if f["key"] == "client-signature")
    assert (client_signature["x"], client_signature["y"], client_signature["last_page"]) == (
        300,
        100,
        True,
    )


def test_an_upload_with_a_layout_gets_its_fields(sender_client, layout, document):
    response = sender_client.post(
        reverse("documents:upload"),
        {"title": "Contrat 2", "file": upload(blank_pdf(2)), "language": "fr", "layout": layout.pk},
    )
    second = Document.objects.get(title="Contrat 2")
    assert response.status_code == 302 and response["Location"].endswith(f"/send/{second.pk}/")
    assert rectangles(second) == rectangles(document)


def test_fields_of_the_last_page_follow_it_on_a_longer_document(sender, layout):
    longer = document_create_from_upload(
        uploaded_file=upload(blank_pdf(4)), title="Long", creator=sender, layout=layout
    )
    pages = dict(longer.fields.values_list("key", "page"))
    assert pages["client-signature"] == 4
    assert pages["date-client-4"] == 1


def test_a_layout_for_another_page_size_is_refused_and_nothing_is_stored(
    sender_client, layout, media_root
):
    before = stored_files(media_root)
    response = sender_client.post(
        reverse("documents:upload"),
        {
            "title": "Lettre",
            "file": upload(blank_pdf(2, *LETTER)),
            "language": "en",
            "layout": layout.pk,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "595 × 842 pt (A4)" in html and "612 × 792 pt (Letter)" in html
    assert not Document.objects.filter(title="Lettre").exists()
    assert stored_files(media_root) == before


def test_a_layout_is_not_applied_to_a_document_too_short_for_it(sender, layout):
    short = document_create_from_upload(
        uploaded_file=upload(blank_pdf(1)), title="S", creator=sender
    )
    # The date sits on page 1 and the signatures on the last page: one page is enough...
    services.layout_apply(layout=layout, document=short)
    assert short.fields.count() == 4
    # ...but a field on page 2 of 3 is not.
    three = document_create_from_upload(
        uploaded_file=upload(blank_pdf(3)), title="T", creator=sender
    )
    services.field_create(
        document=three, kind="text", role="client", page=2, x=50, y=50, width=100, height=20
    )
    middle = services.layout_save(document=three, name="Milieu", creator=sender)
    with pytest.raises(DocumentError, match="page 2"):
        services.layout_apply(layout=middle, document=short)


def test_applying_a_layout_in_the_editor_replaces_the_fields(
    sender_client, sender, layout, document
):
    other = document_create_from_upload(
        uploaded_file=upload(blank_pdf(2)), title="B", creator=sender
    )
    response = sender_client.post(
        reverse("documents:layout_apply", args=[other.pk]), {"layout": layout.pk}
    )
    assert response.status_code == 302
    assert rectangles(other) == rectangles(document)


def test_applying_a_layout_of_another_size_changes_nothing(sender_client, sender, layout):
    letter = document_create_from_upload(
        uploaded_file=upload(blank_pdf(1, *LETTER)), title="L", creator=sender
    )
    before = rectangles(letter)
    response = sender_client.post(
        reverse("documents:layout_apply", args=[letter.pk]), {"layout": layout.pk}, follow=True
    )
    assert "612 × 792 pt" in response.content.decode()
    assert rectangles(letter) == before


def test_a_layout_cannot_be_applied_to_a_sent_document(sender, layout):
    other = document_create_from_upload(
        uploaded_file=upload(blank_pdf(2)), title="B", creator=sender
    )
    other.locked = True
    other.save()
    before = rectangles(other)
    with pytest.raises(DocumentError):
        services.layout_apply(layout=layout, document=other)
    assert rectangles(other) == before


def test_the_editor_saves_a_layout_and_offers_it(sender_client, document):
    url = reverse("documents:layout_save", args=[document.pk])
    response = sender_client.post(url, {"name": "Maintenance"}, follow=True)
    assert FieldLayout.objects.get().name == "Maintenance"
    html = response.content.decode()
    assert 'id="apply-layout"' in html and "Maintenance" in html
    upload_page = sender_client.get(reverse("documents:upload")).content.decode()
    assert 'name="layout"' in upload_page and "Maintenance" in upload_page


def test_the_upload_page_has_no_layout_choice_until_one_is_saved(sender_client):
    assert 'name="layout"' not in sender_client.get(reverse("documents:upload")).content.decode()


def test_a_colleague_cannot_use_or_delete_my_layout(colleague, layout):
    other = Client()
    other.force_login(colleague)
    mine = document_create_from_upload(
        uploaded_file=upload(blank_pdf(2)), title="M", creator=colleague
    )
    response = other.post(reverse("documents:layout_apply", args=[mine.pk]), {"layout": layout.pk})
    assert response.status_code == 404
    assert other.post(reverse("documents:layout_remove", args=[layout.pk])).status_code == 404
    # Nor pick it on the upload page: it is not among the choices.
    response = other.post(
        reverse("documents:upload"),
        {"title": "X", "file": upload(blank_pdf(2)), "language": "fr", "layout": layout.pk},
    )
    assert not Document.objects.filter(title="X").exists()
    assert FieldLayout.objects.filter(pk=layout.pk).exists()


def test_a_colleague_cannot_save_a_layout_from_my_document(colleague, document):
    other = Client()
    other.force_login(colleague)
    response = other.post(reverse("documents:layout_save", args=[document.pk]), {"name": "Vol"})
    assert response.status_code == 404
    assert not FieldLayout.objects.exists()


def test_a_manager_may_save_a_layout_from_a_colleagues_document(client, manager, document):
    client.force_login(manager)
    client.post(reverse("documents:layout_save", args=[document.pk]), {"name": "Modèle"})
    assert FieldLayout.objects.get().created_by == manager


def test_the_owner_lists_and_deletes_their_layouts(sender_client, layout):
    html = sender_client.get(reverse("documents:layout_list")).content.decode()
    assert "Contrat de maintenance" in html
    sender_client.post(reverse("documents:layout_remove", args=[layout.pk]))
    assert not FieldLayout.objects.exists()
