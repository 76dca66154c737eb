"""Issue 3's acceptance in Chromium: a counterparty with a contact, a deal, an invoice with three
lines at 20 % and 5.5 % VAT, sent for signature from the deal; the totals on the page, in the
PDF and in the database agree to the cent."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from crm.models import Counterparty, Deal, Invoice
from signing.models import Envelope
from tests.browser_support import ARTIFACTS, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]

LINES = [
    ("Conception graphique", "3", "333.33", "20"),
    ("Impression des affiches", "7", "12.35", "5.5"),
    ("Livraison", "1", "15.00", "20"),
]


def _flat(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def test_an_invoice_made_in_the_browser_is_sent_and_its_totals_agree(
    browser, live_server, sender, company
):
    base = live_server.url
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", sender.username)
    page.fill("#id_password", "pass-" + sender.username)
    page.click("main form button.primary")
    page.wait_for_url("**/board/")

    page.goto(f"{base}/crm/counterparties/new/")
    page.select_option("#id_kind", "company")
    page.fill("#id_legal_name", "Café des Arts SARL")
    page.fill("#id_address", "5 rue des Lilas\n33000 Bordeaux")
    page.click("main form button.primary")
    page.wait_for_url("**/crm/counterparties/*/")
    counterparty = Counterparty.objects.get(legal_name="Café des Arts SARL")

    page.goto(f"{base}/crm/counterparties/{counterparty.pk}/contacts/new/")
    page.fill("#id_name", "Inès Garnier")
    page.fill("#id_email", "ines@cafe-des-arts.fr")
    page.fill("#id_phone", "06 11 22 33 44")
    page.click("main form button.primary")
    page.wait_for_url(f"**/crm/counterparties/{counterparty.pk}/")

    page.goto(f"{base}/crm/deals/new/?counterparty={counterparty.pk}")
    page.fill("#id_title", "Identité visuelle")
    page.select_option("#id_contact", str(counterparty.contacts.get().pk))
    page.fill("#id_amount", "1309.19")
    page.click("main form button.primary")
    page.wait_for_url("**/crm/deals/*/")
    deal = Deal.objects.get(title="Identité visuelle")

    page.goto(f"{base}/crm/deals/{deal.pk}/invoices/new/")
    page.fill("#id_issue_date", "2026-11-27")
    page.fill("#id_due_date", "2026-12-27")
    for index, (description, quantity, price, rate) in enumerate(LINES):
        page.fill(f"#id_lines-{index}-description", description)
        page.fill(f"#id_lines-{index}-quantity", quantity.replace(".", ","))
        page.fill(f"#id_lines-{index}-unit_price", price.replace(".", ","))
        page.select_option(f"#id_lines-{index}-vat_rate", rate)
    page.click("main form button.primary")
    page.wait_for_url("**/crm/invoices/*/")
    invoice = Invoice.objects.get(deal=deal)
    totals = invoice.totals()
    assert totals == {
        "net": Decimal("1101.44"),
        "vat": Decimal("207.75"),
        "gross": Decimal("1309.19"),
    }
    shown = _flat(page.inner_text("main"))
    for amount in ("1 101,44 €", "207,75 €", "1 309,19 €"):
        assert amount in shown, shown

    page.goto(f"{base}/crm/deals/{deal.pk}/")
    page.locator("form[action*='/invoices/'] button").first.click()
    page.wait_for_url("**/send/*/")
    assert page.input_value("#id_client-name") == "Inès Garnier"
    page.click("#send-form button.primary")
    page.wait_for_url("**/envelopes/*/")
    envelope = Envelope.objects.get(deal=deal)
    assert envelope.status == Envelope.Status.AWAITING_COMPANY
    assert envelope.amount == Decimal("1309.19")

    pdf_text = _flat(
        " ".join(
            p.extract_text() for p in PdfReader(io.BytesIO(envelope.document.pdf.read())).pages
        )
    )
    for amount in ("1 101,44 €", "1 309,19 €"):
        assert amount in pdf_text, pdf_text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "crm-sent.png"), full_page=True)
    context.close()
