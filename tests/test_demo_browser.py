"""The foundation's acceptance, in Chromium: on the demo data, an employee sends an invoice from
a deal, both signers sign from links found only on the outbox page, and the sealed PDF that the
employee downloads is `authentic` on the public verification page.

It runs twice: from a French interface, and from an English interface with "Document language:
French" chosen on the send screen; both times the sealed PDF is a French invoice only, the
invoice then says Signed with its sealed PDF, and the deal's timeline says who signed.
"""

import re
import subprocess

import pytest
from django.core.management import call_command

from crm.models import Invoice
from signing.models import Envelope
from tests.browser_support import ARTIFACTS, PHONE, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


def _outbox_link(page, base: str, template: str, recipient_part: str) -> str:
    page.goto(f"{base}/dev/outbox/")
    article = page.locator(
        f"article.outbox-message[data-template={template}][data-recipient*='{recipient_part}']"
    ).first
    return article.locator("pre a").first.get_attribute("href")


def _outbox_code(page, base: str, recipient_part: str) -> str:
    page.goto(f"{base}/dev/outbox/")
    text = page.locator(
        f"article.outbox-message[data-template=code][data-recipient*='{recipient_part}']"
    ).first.inner_text()
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def _sign(
    browser, base: str, link: str, recipient_part: str, *, name: str, stamp: str | None = None
) -> None:
    """The signer's page without JavaScript: the plain form path every browser has (the
    guided phone flow has its own tests in tests/signing/test_phone_signing_browser.py)."""
    context = browser.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    outbox = browser.new_context().new_page()
    page.goto(link)
    page.click("#send-code")
    page.wait_for_selector("#code")
    page.fill("#code", _outbox_code(outbox, base, recipient_part))
    page.click("#code-step button.primary")
    page.wait_for_selector("#sign-form")
    assert page.locator("html").get_attribute("lang") == "fr"  # the document's language
    page.fill("#signature-typed", name)
    for mention in page.locator("input[data-mention]").all():
        mention.fill(mention.get_attribute("data-mention") or "")
    if page.locator("input[name=stamp-method][value=default]").count():
        page.check("input[name=stamp-method][value=default]")  # the company's own stamp
    elif stamp and page.locator("#stamp-file").count():
        page.set_input_files("#stamp-file", stamp)
    page.check("input[name=consent]")
    page.click("#sign-button")
    page.wait_for_selector(".verdict.authentic")
    outbox.context.close()
    context.close()


def _pdf_text(path) -> str:  # type: ignore[no-untyped-def]
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.mark.parametrize(
    "interface,locale",
    [("fr", "fr-FR"), ("en", "en-US")],
    ids=["french-interface", "english-interface-french-document"],
)
def test_the_demo_flow_can_be_clicked_through_with_the_outbox(
    browser, live_server, settings, tmp_path, interface, locale
):
    settings.SIGNFLOW_BASE_URL = live_server.url
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)

    context = browser.new_context(accept_downloads=True, locale=locale)
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "employe1")
    page.fill("#id_password", "demo-signflow")
    page.click("main form button.primary")
    page.wait_for_url("**/board/")
    # The deal whose invoice is issued, not yet signed (the story of issue 12).
    issued = Invoice.objects.filter(
        status="issued", deal__contact__isnull=False, deal__responsible__username="employe1"
    ).first()
    assert issued is not None
    page.goto(f"{base}/crm/deals/")
    page.locator(f"table a[href*='/crm/deals/{issued.deal_id}/']").first.click()
    page.locator("form[action*='/invoices/'] button").first.click()
    page.wait_for_url("**/send/*/")
    # The client is French: the document's language is chosen here, whatever the interface's.
    page.select_option("#send-form select[name=language]", "fr")
    page.screenshot(path=str(ARTIFACTS / f"demo-send-{interface}.png"), full_page=True)
    page.click("#send-form button.primary")
    page.wait_for_url("**/envelopes/*/")
    envelope = Envelope.objects.get()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY
    assert envelope.language == envelope.document.language == "fr"
    assert envelope.title.startswith("Facture F-")

    stamp = str(tmp_path / "cachet.png")
    from signing.demo import _stamp

    (tmp_path / "cachet.png").write_bytes(_stamp())
    director = _outbox_link(page, base, "invitation", "claire.dubois")
    _sign(browser, base, director, "claire.dubois", name="Claire Dubois", stamp=stamp)
    client_link = _outbox_link(page, base, "invitation", "martin")
    _sign(browser, base, client_link, "martin", name="Paul Martin")

    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    page.goto(f"{base}/envelopes/{envelope.pk}/")
    with page.expect_download() as download_info:
        page.click("a[href$='/download/']")
    sealed = tmp_path / "sealed.pdf"
    download_info.value.save_as(str(sealed))
    text = _pdf_text(sealed)
    assert "FACTURE" in text and "Facturé à" in text and "Certificat de signature" in text
    assert re.search(r"\d \d{3},\d{2} €", text), text[:2000]
    assert re.search(r"\b\d{2}/\d{2}/20\d{2}\b", text)
    for english in ("INVOICE", "Billed to", "Certificate of completion", "Total incl. VAT"):
        assert english not in text, english
    assert not re.search(r"€\d", text)

    # The CRM follows the signature: the invoice is Signed with its sealed PDF, no new send.
    invoice = Invoice.objects.get(pk=envelope.document.invoice_id)
    assert invoice.status == Invoice.Status.SIGNED
    page.goto(f"{base}/crm/invoices/{invoice.pk}/")
    assert page.locator(".invoice-signed").count() == 1
    assert page.locator(f"a[href='/envelopes/{envelope.pk}/download/']").count() >= 1
    assert page.locator(f"form[action='/invoices/{invoice.pk}/send/']").count() == 0
    page.goto(f"{base}/crm/deals/{invoice.deal_id}/")
    timeline = page.locator("ol.timeline").inner_text()
    assert "party_signed" not in timeline and "document_created" not in timeline
    for party in envelope.parties.all():
        assert party.name in timeline

    page.goto(f"{base}/verify/")
    page.set_input_files("#verify-file", str(sealed))
    page.click("#verify-form button.primary")
    page.wait_for_selector("#verification-result")
    assert page.locator(".verdict.authentic").count() == 1
    page.screenshot(path=str(ARTIFACTS / f"demo-verified-{interface}.png"), full_page=True)
    context.close()
