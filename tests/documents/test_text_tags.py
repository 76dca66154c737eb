"""Text tags such as {{signature:client}} in an uploaded PDF become fields where they stand."""

import pytest

from documents.rendering import render_pdf
from documents.services import document_create_from_upload
from tests.documents.conftest import render, upload


def pdf_with_tags() -> bytes:
    body = '<p style="margin-top: 10cm">Signature du client : {{ sig }}</p><p>Date : {{ date }}</p>'
    rendered = render_pdf(
        body=body,
        css="@page { size: A4; margin: 2cm }",
        context={"sig": "{{signature:client}}", "date": "{{date:company}}"},
        language="fr",
    )
    return rendered.pdf


def test_tags_in_an_uploaded_pdf_become_fields_at_their_position(sender):
    document = document_create_from_upload(
        uploaded_file=upload(pdf_with_tags()), title="Avec tags", creator=sender
    )
    fields = {field.key: field for field in document.fields.all()}
    assert set(fields) == {"signature-client-1", "date-company-1"}
    signature = fields["signature-client-1"]
    assert signature.page == 1
    assert signature.role == "client"
    # 2cm margin + 10cm: the first line sits about 12cm below the top of the A4 page.
    top_of_tag = 841.89 - (signature.y + 12)
    assert top_of_tag == pytest.approx(12 / 2.54 * 72, abs=20)
    assert signature.width >= 150 and signature.height >= 60
    assert fields["date-company-1"].y < signature.y


def test_the_tag_text_is_hidden_in_the_stored_pdf(sender):
    original = pdf_with_tags()
    document = document_create_from_upload(
        uploaded_file=upload(original), title="Avec tags", creator=sender
    )
    field = document.fields.get(key="signature-client-1")
    scale = 2.0
    stored = render(document.pdf.open("rb").read(), scale=scale)
    before = render(original, scale=scale)
    # Inside the tag's line, where the tag was written: ink before, blank after.
    box = (
        int(field.x * scale),
        int((841.89 - field.y - 12) * scale),
        int((field.x + 100) * scale),
        int((841.89 - field.y) * scale),
    )
    assert before.crop(box).convert("L").getextrema()[0] < 128
    assert stored.crop(box).convert("L").getextrema()[0] > 250


def test_a_pdf_without_tags_gets_the_default_fields(sender):
    body = "<p>Rien à signer ici</p>"
    rendered = render_pdf(body=body, css="", context={}, language="fr")
    document = document_create_from_upload(
        uploaded_file=upload(rendered.pdf), title="Sans tags", creator=sender
    )
    assert set(document.fields.values_list("key", flat=True)) == {
        "company-signature",
        "company-stamp",
        "client-signature",
    }
