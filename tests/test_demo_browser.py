"""The foundation's acceptance, in Chromium: on the demo data, an employee sends an invoice from
a deal, both signers sign from links found only on the outbox page, and the sealed PDF that the
employee downloads is `authentic` on the public verification page."""

import re

import pytest
from django.core.management import call_command

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


def _sign(browser, base: str, link: str, recipient_part: str, *, stamp: str | None = None) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    outbox = context.new_page()
    page.goto(link)
    page.click("#send-code")
    page.fill("#code", _outbox_code(outbox, base, recipient_part))
    page.click("#code-step button.primary")
    page.wait_for_selector("#sign-form")
    if stamp:
        page.set_input_files("input[name=stamp-file]", stamp)
    page.check("input[name=consent]")
    page.click("#sign-button")
    page.wait_for_selector(".verdict.authentic")
    context.close()


def test_the_demo_flow_can_be_clicked_through_with_the_outbox(
    browser, live_server, settings, tmp_path
):
    settings.SIGNFLOW_BASE_URL = live_server.url
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)

    context = browser.new_context(accept_downloads=True, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "employe1")
    page.fill("#id_password", "demo-signflow")
    page.click("main form button.primary")
    page.wait_for_url("**/board/")
    page.goto(f"{base}/crm/deals/")
    page.locator("table a[href*='/crm/deals/']").first.click()
    page.locator("form[action*='/invoices/'] button").first.click()
    page.wait_for_url("**/send/*/")
    page.screenshot(path=str(ARTIFACTS / "demo-send.png"), full_page=True)
    page.click("#send-form button.primary")
    page.wait_for_url("**/envelopes/*/")
    envelope = Envelope.objects.get()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY

    stamp = str(tmp_path / "cachet.png")
    from signing.demo import _stamp

    (tmp_path / "cachet.png").write_bytes(_stamp())
    director = _outbox_link(page, base, "invitation", "claire.dubois")
    _sign(browser, base, director, "claire.dubois", stamp=stamp)
    client_link = _outbox_link(page, base, "invitation", "martin")
    _sign(browser, base, client_link, "martin")

    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    page.goto(f"{base}/envelopes/{envelope.pk}/")
    with page.expect_download() as download_info:
        page.click("a[href$='/download/']")
    sealed = tmp_path / "sealed.pdf"
    download_info.value.save_as(str(sealed))

    page.goto(f"{base}/verify/")
    page.set_input_files("#verify-file", str(sealed))
    page.click("#verify-form button.primary")
    page.wait_for_selector("#verification-result")
    assert page.locator(".verdict.authentic").count() == 1
    page.screenshot(path=str(ARTIFACTS / "demo-verified.png"), full_page=True)
    context.close()
