"""An invoice becomes a PDF whose field rectangles match the boxes printed on it."""

import io

import pytest
from pypdf import PdfReader

from crm.models import Counterparty
from documents.builtin import ensure_builtin_templates
from documents.models import Document, DocumentTemplate
from documents.services import document_create_from_invoice
from tests import factories
from tests.documents.conftest import render

SCALE = 3.0  # 216 dpi: a 0.75pt border is about 2 px wide


def pdf_text(document: Document) -> str:
    reader = PdfReader(io.BytesIO(document.pdf.open("rb").read()))
    return "\n".join(page.extract_text() for page in reader.pages)


def is_box_blue(pixel) -> bool:
    red, green, blue = pixel
    return blue > 150 and red < 140 and blue - red > 60


def border_coverage(image, x0: int, y0: int, x1: int, y1: int) -> dict[str, float]:
    """Share of blue pixels along each side of the rectangle (within 2 px of the edge)."""

    def share(points) -> float:
        points = list(points)
        hits = 0
        for x, y in points:
            hits += any(
                is_box_blue(image.getpixel((x + dx, y + dy)))
                for dx in (-2, -1, 0, 1, 2)
                for dy in (-2, -1, 0, 1, 2)
                if 0 <= x + dx < image.width and 0 <= y + dy < image.height
            )
        return hits / len(points)

    inset = 4
    return {
        "left": share((x0, y) for y in range(y0 + inset, y1 - inset)),
        "right": share((x1 - 1, y) for y in range(y0 + inset, y1 - inset)),
        "top": share((x, y0) for x in range(x0 + inset, x1 - inset)),
        "bottom": share((x, y1 - 1) for x in range(x0 + inset, x1 - inset)),
        # 6 px outside the box: no border line there.
        "outside_left": share((x0 - 6, y) for y in range(y0 + inset, y1 - inset)),
        "outside_top": share((x, y0 - 6) for x in range(x0 + inset, x1 - inset)),
    }


def test_an_invoice_document_gets_the_company_and_client_fields(invoice, sender):
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    assert document.title == "Facture F-2026-00001"
    assert document.deal == invoice.deal
    assert document.invoice == invoice
    assert document.source == Document.Source.TEMPLATE
    assert document.page_count == 1
    assert document.pdf.name == f"documents/{document.sha256}.pdf"
    fields = {field.key: field for field in document.fields.all()}
    # No client stamp unless the company asks for one (OwnCompany.ask_client_stamp).
    assert set(fields) == {
        "company-signature",
        "company-stamp",
        "company-date",
        "client-mention",
        "client-signature",
    }
    assert fields["company-signature"].role == "company"
    assert fields["client-signature"].role == "client"
    assert fields["client-mention"].kind == "mention"
    assert fields["client-mention"].phrase == "Bon pour accord"
    assert fields["company-signature"].width == pytest.approx(155.906, abs=0.01)  # 5.5cm


def test_invoice_fields_match_the_boxes_visible_in_the_pdf(invoice, sender):
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    pdf = document.pdf.open("rb").read()
    page_height = float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.height)
    image = render(pdf, scale=SCALE)
    for field in document.fields.all():
        x0 = round(field.x * SCALE)
        x1 = round((field.x + field.width) * SCALE)
        y0 = round((page_height - field.y - field.height) * SCALE)
        y1 = round((page_height - field.y) * SCALE)
        coverage = border_coverage(image, x0, y0, x1, y1)
        for side in ("left", "right", "top", "bottom"):
            assert coverage[side] > 0.95, (field.key, side, coverage)
        assert coverage["outside_left"] < 0.2, (field.key, coverage)
        assert coverage["outside_top"] < 0.2, (field.key, coverage)


def test_a_company_client_gets_a_stamp_field_when_the_company_asks(company, invoice, sender):
    company.ask_client_stamp = True
    company.save()
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="en")
    stamp = document.fields.get(key="client-stamp")
    assert (stamp.kind, stamp.role, stamp.required) == ("stamp", "client", True)


def test_an_individual_client_gets_no_stamp_field(company, sender):
    # Never, even when the company asks company clients for theirs.
    company.ask_client_stamp = True
    company.save()
    person = factories.make_counterparty(
        kind=Counterparty.Kind.INDIVIDUAL, legal_name="Jeanne Moreau", siren=""
    )
    deal = factories.make_deal(company=company, responsible=sender, counterparty=person)
    invoice = factories.make_invoice(deal)
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    keys = set(document.fields.values_list("key", flat=True))
    assert "client-stamp" not in keys
    assert "client-signature" in keys


def test_the_french_invoice_shows_requisites_lines_and_totals_in_french(invoice, sender):
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    text = pdf_text(document).replace("\u00a0", " ")
    for expected in (
        "FACTURE",
        "F-2026-00001",
        "Atelier Lumière SAS",
        "732829320",
        "73282932000074",
        "FR44732829320",
        "RCS Lyon",
        "FR7630006000011234567890189",
        "AGRIFRPP",
        "Boulangerie Martin SARL",
        "20/11/2026",
        "20/12/2026",
        "8 333,33 €",
        "300,00 €",  # 250 x 1,20
        "5,5 %",
        "8 633,33 €",  # net
        "1 666,67 €",  # VAT 20 % on 8 333,33
        "16,50 €",  # VAT 5,5 % on 300,00
        "10 316,50 €",  # gross
    ):
        assert expected in text, expected
    totals = invoice.totals()
    assert str(totals["gross"]) == "10316.50"


def test_the_english_invoice_is_worded_and_formatted_in_english(invoice, sender):
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="en")
    text = pdf_text(document)
    assert document.title == "Invoice F-2026-00001"
    assert "INVOICE" in text
    assert "€10,316.50" in text
    assert "Total incl. VAT" in text


def test_crm_values_with_markup_are_printed_as_text_not_html(company, sender):
    hostile = factories.make_counterparty(
        legal_name="</span><img src=x onerror=alert(1)>", address="<script>alert(1)</script>"
    )
    deal = factories.make_deal(company=company, responsible=sender, counterparty=hostile)
    invoice = factories.make_invoice(deal, lines=[("<b>bold</b>", "1", "10", "20")])
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    text = " ".join(pdf_text(document).split())
    assert "</span><img src=x onerror=alert(1)>" in text
    assert "<script>alert(1)</script>" in text
    assert "<b>bold</b>" in text


def test_the_default_invoice_template_of_the_language_is_used(invoice, sender):
    ensure_builtin_templates()
    builtin = DocumentTemplate.objects.get(kind="invoice", language="fr", builtin=True)
    custom = DocumentTemplate.objects.create(
        name="Ma facture",
        kind="invoice",
        language="fr",
        body=builtin.body.replace('{% translate "INVOICE" %}', "FACTURE MAISON"),
        css=builtin.css,
        is_default_for_invoices=True,
    )
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    assert document.template == custom
    assert "FACTURE MAISON" in pdf_text(document)


def test_builtin_templates_are_created_once_in_french_and_english(db):
    ensure_builtin_templates()
    ensure_builtin_templates()
    builtins = DocumentTemplate.objects.filter(builtin=True)
    assert builtins.count() == 6
    assert set(builtins.values_list("kind", "language")) == {
        (kind, language) for kind in ("invoice", "agreement", "nda") for language in ("fr", "en")
    }
