"""The field editor (issue 12): a link back to the send screen, a warning when a field covers
text or an image of the page (pdfium's boxes, in displayed-page coordinates), and default
fields of an upload placed in empty space at the bottom of the last page."""

import io

import pytest
from django.test import Client
from PIL import Image

from documents.content_boxes import content_boxes, overlaps
from documents.services import document_create_from_upload, field_create
from tests.documents.conftest import upload
from tests.documents.rotated_pdfs import CASE_IDS, CASES, Case, make_pdf

pytestmark = pytest.mark.django_db

A4 = Case("a4", 0)


def _boxes(data: bytes, page_count: int = 1) -> dict:
    import hashlib

    return content_boxes(data, sha256=hashlib.sha256(data).hexdigest(), page_count=page_count)


@pytest.mark.parametrize("case", [A4, *CASES], ids=["a4", *CASE_IDS])
def test_text_boxes_are_in_displayed_page_coordinates(case: Case) -> None:
    width, height = case.display
    data = make_pdf(case, texts=[(40, height - 60, "Conditions generales de vente")])
    boxes = _boxes(data)[1]
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    # Helvetica 12 pt from the baseline at (40, height - 60), upright as displayed.
    assert 38 <= x <= 41 and 150 < w < 200
    assert y <= height - 60 <= y + h and h < 16
    assert overlaps((60, height - 62, 50, 20), boxes)
    assert not overlaps((60, height - 200, 50, 20), boxes)


def test_an_image_is_a_content_box() -> None:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 40, 40)).save(out, "PDF", resolution=72)
    boxes = _boxes(out.getvalue())[1]
    assert boxes == [(0.0, 0.0, 400.0, 300.0)]


def test_a_page_that_cannot_be_read_gives_no_boxes_rather_than_an_error() -> None:
    assert content_boxes(b"%PDF-1.4 broken", sha256="0" * 64, page_count=1) == {}


def test_a_page_full_of_text_is_bounded() -> None:
    lines = [(40, 30 + 8 * i, "x" * 3) for i in range(100)]
    lines += [(300, 30 + 8 * i, "y" * 3) for i in range(100)]
    lines += [(450, 30 + 8 * i, "z" * 3) for i in range(100)]
    lines += [(520, 30 + 8 * i, "w" * 3) for i in range(100)]
    boxes = _boxes(make_pdf(A4, texts=lines))[1]
    assert 0 < len(boxes) <= 300


def _upload(sender, data: bytes):
    return document_create_from_upload(
        uploaded_file=upload(data), title="Contrat cadre", creator=sender, language="fr"
    )


def test_the_editor_warns_about_a_field_over_text_and_not_about_one_in_empty_space(
    sender_client: Client, sender
) -> None:
    document = _upload(sender, make_pdf(A4, texts=[(60, 700, "Article 1 - Objet du contrat")]))
    over = field_create(
        document=document, kind="text", role="client", page=1, x=80, y=695, width=120, height=20
    )
    clear = field_create(
        document=document, kind="text", role="client", page=1, x=80, y=400, width=120, height=20
    )
    page = sender_client.get(f"/documents/{document.pk}/fields/").content.decode()
    assert f'href="/send/{document.pk}/"' in page  # back to the send screen
    assert 'data-content="[[' in page
    row_over = page.split(f'id="row-{over.pk}"', 1)[1].split("</form>", 1)[0]
    row_clear = page.split(f'id="row-{clear.pk}"', 1)[1].split("</form>", 1)[0]
    assert 'data-overlap-warning role="status">' in row_over  # shown
    assert 'data-overlap-warning role="status" hidden>' in row_clear
    box = page.split(f'id="box-{over.pk}"', 1)[0].rsplit("<div", 1)[1]
    assert "overlaps" in box


def test_default_fields_go_below_the_content_of_the_last_page(sender) -> None:
    # Text down to 150 pt from the bottom: the fields go underneath, in the bottom margin.
    lines = [(40, 800 - 20 * i, f"Ligne {i}") for i in range(33)]
    data = make_pdf(A4, texts=lines)
    document = _upload(sender, data)
    boxes = _boxes(data)[1]
    for field in document.fields.all():
        assert not overlaps((field.x, field.y, field.width, field.height), boxes), field.key
        assert field.y < 150


def test_default_fields_avoid_a_footer_and_text_at_the_bottom(sender) -> None:
    # Body text in the lower part of the page and a footer line: the fields go in the empty
    # band between them instead of over the text.
    lines = [(40, 20, "Pied de page - SIREN 732 829 320")]
    lines += [(40, 60 + 14 * i, f"Clause {i} du contrat") for i in range(8)]
    lines += [(40, 400 + 14 * i, f"Article {i}") for i in range(10)]
    data = make_pdf(A4, texts=lines)
    document = _upload(sender, data)
    boxes = _boxes(data)[1]
    fields = list(document.fields.all())
    assert len(fields) == 3
    for field in fields:
        assert not overlaps((field.x, field.y, field.width, field.height), boxes), field.key
        assert 160 <= field.y < 400  # above the clauses, below the articles
