"""The upload page, page previews and the field editor, through the Django test client."""

import io

import pytest
from django.urls import reverse
from PIL import Image

from documents.models import Document, Field
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, stored_files, upload

pytestmark = pytest.mark.urls("tests.documents.urlconf")


def test_the_upload_page_asks_for_a_title_a_file_and_a_language(sender_client):
    response = sender_client.get(reverse("documents:upload"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="title"' in html and 'name="file"' in html and 'name="language"' in html


def test_the_upload_page_requires_login(client):
    response = client.get(reverse("documents:upload"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_good_upload_creates_the_document_and_goes_to_the_send_page(sender_client, sender):
    response = sender_client.post(
        reverse("documents:upload"),
        {"title": "Contrat cadre", "file": upload(blank_pdf(2)), "language": "fr"},
    )
    document = Document.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/send/{document.id}/")
    assert document.created_by == sender
    assert document.title == "Contrat cadre"
    assert document.fields.count() == 3


def test_a_bad_upload_shows_a_clear_message_and_stores_nothing(sender_client, media_root):
    response = sender_client.post(
        reverse("documents:upload"),
        {"title": "Faux", "file": upload(b"not a pdf at all", "faux.pdf"), "language": "en"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "is not a PDF document" in response.content.decode()
    assert Document.objects.count() == 0
    assert stored_files(media_root) == []


def test_the_upload_error_is_shown_in_french_to_a_french_user(sender_client, media_root):
    sender_client.cookies["django_language"] = "fr"
    response = sender_client.post(
        reverse("documents:upload"),
        {"title": "Vide", "file": upload(b"", "vide.pdf"), "language": "fr"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 200
    assert Document.objects.count() == 0
    assert "Le fichier" in response.content.decode()


def test_an_upload_without_a_title_is_refused_on_the_page(sender_client):
    response = sender_client.post(
        reverse("documents:upload"), {"title": "", "file": upload(blank_pdf()), "language": "fr"}
    )
    assert response.status_code == 200
    assert Document.objects.count() == 0


@pytest.fixture
def document(sender):
    return document_create_from_upload(
        uploaded_file=upload(blank_pdf(2)), title="C", creator=sender
    )


def test_the_creator_gets_a_png_preview_of_a_page(sender_client, document, media_root):
    response = sender_client.get(reverse("documents:page_image", args=[document.id, 2]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert 990 <= image.width <= 1010
    thumb = sender_client.get(
        reverse("documents:page_image", args=[document.id, 1]) + "?size=thumb"
    )
    assert 190 <= Image.open(io.BytesIO(thumb.content)).width <= 210
    assert (media_root / "previews" / document.sha256 / "2-page.png").exists()


def test_a_manager_gets_the_preview_too(client, manager, document):
    client.force_login(manager)
    assert client.get(reverse("documents:page_image", args=[document.id, 1])).status_code == 200


def test_a_colleague_gets_a_404_for_someone_elses_preview(client, colleague, document):
    client.force_login(colleague)
    assert client.get(reverse("documents:page_image", args=[document.id, 1])).status_code == 404


def test_a_page_outside_the_document_is_a_404(sender_client, document):
    assert (
        sender_client.get(reverse("documents:page_image", args=[document.id, 3])).status_code == 404
    )


def test_the_field_editor_shows_the_pages_and_the_fields(sender_client, document):
    response = sender_client.get(reverse("documents:edit_fields", args=[document.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="doc-page editor-page"') == 2
    assert html.count('class="card field-row"') == 3
    assert "js/field-editor.js" in html


def field_data(field: Field, **changes):
    data = {
        "kind": field.kind,
        "role": field.role,
        "page": field.page,
        "x": field.x,
        "y": field.y,
        "width": field.width,
        "height": field.height,
        "label": field.label,
        "required": "on",
    }
    data.update(changes)
    return data


def test_moving_a_field_through_htmx_saves_it_and_returns_its_row(sender_client, document):
    field = document.fields.get(key="client-signature")
    url = reverse("documents:field_change", args=[document.id, field.id])
    response = sender_client.post(url, field_data(field, x=100, y=300), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="row-{field.id}"' in response.content.decode()
    field.refresh_from_db()
    assert (field.x, field.y) == (100, 300)


def test_a_field_moved_off_the_page_is_refused_with_a_message(sender_client, document):
    field = document.fields.get(key="client-signature")
    url = reverse("documents:field_change", args=[document.id, field.id])
    response = sender_client.post(url, field_data(field, x=590), HTTP_HX_REQUEST="true")
    assert response["HX-Retarget"] == "#editor-message"
    assert response.content.decode().strip() != ""
    field.refresh_from_db()
    assert field.x != 590


def test_a_field_can_be_added_and_deleted_without_javascript(sender_client, document):
    add = reverse("documents:field_add", args=[document.id])
    response = sender_client.post(
        add,
        {
            "kind": "date",
            "role": "client",
            "page": 1,
            "x": 60,
            "y": 120,
            "width": 120,
            "height": 20,
            "required": "on",
        },
    )
    assert response.status_code == 302
    added = document.fields.get(kind="date")
    assert added.page == 1
    delete = reverse("documents:field_remove", args=[document.id, added.id])
    assert sender_client.post(delete).status_code == 302
    assert not document.fields.filter(kind="date").exists()


def test_the_fields_of_a_locked_document_cannot_be_changed(sender_client, document):
    document.locked = True
    document.save()
    field = document.fields.get(key="client-signature")
    url = reverse("documents:field_change", args=[document.id, field.id])
    sender_client.post(url, field_data(field, x=100))
    field.refresh_from_db()
    assert field.x != 100
    sender_client.post(reverse("documents:field_remove", args=[document.id, field.id]))
    assert document.fields.filter(id=field.id).exists()


def test_a_colleague_cannot_edit_someone_elses_fields(client, colleague, document):
    client.force_login(colleague)
    field = document.fields.get(key="client-signature")
    url = reverse("documents:field_change", args=[document.id, field.id])
    assert client.post(url, field_data(field, x=100)).status_code == 404
