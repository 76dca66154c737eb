"""The Content-Security-Policy in Chromium: the whole story, from the login to the verification
of the sealed PDF, with the field editor, the template editor, the board, the outbox and both
signers (drawn signatures), raises no policy violation and no script error, and the pieces the
policy could silently break (positions set from data attributes, board filters, signature pad,
upload progress) still work."""

import re
from typing import Any

import pytest
from django.core.management import call_command

from documents.models import Document
from signing.models import Envelope
from tests.browser_support import ARTIFACTS, PHONE, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]

# Reports every violation to Python as it happens: a page that navigates away keeps nothing.
# On window (capture), not document: verify.js replaces the document with document.open().
RECORDER = """
window.addEventListener("securitypolicyviolation", function (e) {
  window.reportCspViolation({directive: e.violatedDirective, blocked: e.blockedURI,
    sample: e.sample, source: e.sourceFile, line: e.lineNumber, page: location.pathname});
}, true);
"""


class Watch:
    """Violations, console errors about the policy, and uncaught script errors of a context."""

    def __init__(self, context: Any) -> None:
        self.violations: list[dict[str, Any]] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        context.expose_function("reportCspViolation", self._violation)
        context.add_init_script(RECORDER)
        context.on("console", self._console)
        context.on("page", self._page)
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def _violation(self, report: dict[str, Any]) -> None:
        self.violations.append(report)

    def _console(self, message: Any) -> None:
        if message.type == "error" and (
            "Content Security Policy" in message.text or "Refused to" in message.text
        ):
            self.console.append(message.text)

    def _page(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))

    def assert_clean(self) -> None:
        assert self.violations == [], self.violations
        assert self.console == [], self.console
        assert self.errors == [], self.errors


def _size(page: Any, selector: str) -> tuple[float, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["width"], box["height"]


def _outbox_link(page: Any, base: str, template: str, recipient_part: str) -> str:
    page.goto(f"{base}/dev/outbox/")
    article = page.locator(
        f"article.outbox-message[data-template={template}][data-recipient*='{recipient_part}']"
    ).first
    return article.locator("pre a").first.get_attribute("href")


def _outbox_code(page: Any, base: str, recipient_part: str) -> str:
    page.goto(f"{base}/dev/outbox/")
    text = page.locator(
        f"article.outbox-message[data-template=code][data-recipient*='{recipient_part}']"
    ).first.inner_text()
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def _draw(page: Any) -> None:
    page.check("input[name=signature-method][value=drawn]")
    canvas = page.locator("canvas[data-sigpad]")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(
            box["x"] + 20 + step * 25, box["y"] + box["height"] / 2 + (15 if step % 2 else -15)
        )
    page.mouse.up()
    assert page.input_value("input[name=signature-drawn]").startswith("data:image/png")


def _sign(browser: Any, base: str, link: str, recipient_part: str, stamp: str | None) -> None:
    context = browser.new_context(**PHONE)
    watch = Watch(context)
    page = context.new_page()
    outbox = context.new_page()
    page.goto(link)
    # The signer's own fields are placed from their data attributes.
    width, height = _size(page, ".fieldbox.mine")
    assert width > 5 and height > 5
    page.click("#send-code")
    page.fill("#code", _outbox_code(outbox, base, recipient_part))
    page.click("#code-step button.primary")
    page.wait_for_selector("#sign-form")
    _draw(page)
    if stamp:
        # The demo company has a stamp on file, preselected: choose the upload instead.
        if page.locator("input[name=stamp-method][value=uploaded]").count():
            page.check("input[name=stamp-method][value=uploaded]")
        page.set_input_files("input[name=stamp-file]", stamp)
        page.wait_for_selector("[data-capture=stamp] img.capture-preview:not([hidden])")
    page.check("input[name=consent]")
    page.click("#sign-button")
    page.wait_for_selector(".verdict.authentic")
    context.close()
    watch.assert_clean()


def test_the_recorder_sees_a_violation(browser, live_server) -> None:
    # Without this, a recorder that never fires would let every walk below pass.
    context = browser.new_context()
    watch = Watch(context)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "1";
                   document.body.appendChild(s); }"""
    )
    page.wait_for_function("() => true")
    page.reload()
    context.close()
    assert [v["directive"] for v in watch.violations] == ["script-src-elem"]
    assert watch.console


def test_the_whole_story_raises_no_policy_violation(browser, live_server, settings, tmp_path):
    settings.SIGNFLOW_BASE_URL = live_server.url
    call_command("seed_demo", verbosity=0)
    context = browser.new_context(
        accept_downloads=True, locale="fr-FR", viewport={"width": 1400, "height": 1000}
    )
    watch = Watch(context)
    try:
        _walk(browser, context.new_page(), live_server.url, tmp_path)
    except Exception:
        # A step that the policy broke times out: say what the policy blocked.
        print("violations so far:", watch.violations, watch.console, watch.errors)
        raise
    finally:
        context.close()
    watch.assert_clean()


def _walk(browser: Any, page: Any, base: str, tmp_path: Any) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", "employe1")
    page.fill("#id_password", "demo-signflow")
    page.click("main form button.primary")
    page.wait_for_url("**/board/")
    # A filter made of a checkbox (once an htmx trigger filter, which needs eval) still works.
    page.check("input[name=overdue]")
    page.wait_for_url("**overdue=1**")
    page.uncheck("input[name=overdue]")
    page.wait_for_function("() => !location.search.includes('overdue')")

    page.goto(f"{base}/crm/deals/")
    page.locator("table a[href*='/crm/deals/']").first.click()
    page.wait_for_url("**/crm/deals/*/")
    deal_url = page.url
    page.locator("table a[href*='/crm/invoices/']").first.click()
    page.wait_for_url("**/crm/invoices/*/")
    page.goto(page.url + "print/")
    page.wait_for_selector(".invoice-sheet")
    page.goto(deal_url)
    page.locator("form[action*='/invoices/'] button").first.click()
    page.wait_for_url("**/send/*/")
    document_id = int(re.search(r"/send/(\d+)/", page.url).group(1))  # type: ignore[union-attr]

    # The field editor: boxes placed from data attributes, moved with the keyboard and saved.
    page.goto(f"{base}/documents/{document_id}/fields/")
    box = page.locator(".editor-box").first
    width, height = _size(page, ".editor-box")
    assert width > 5 and height > 5
    page_width, page_height = _size(page, ".editor-page")
    assert page_height / page_width == pytest.approx(841.89 / 595.28, rel=0.02)
    field_id = box.get_attribute("data-field-id")
    box.focus()
    with page.expect_response(lambda r: f"/fields/{field_id}/" in r.url) as saved:
        page.keyboard.press("ArrowUp")
    assert saved.value.status == 200

    # The template editor: the preview follows the text and places its boxes.
    page.goto(f"{base}/documents/templates/new/")
    page.wait_for_selector("#template-preview img")
    page.fill("#id_body", "<h1>{{ client.legal_name }}</h1>\n")
    page.locator("#id_body").press("End")
    with page.expect_response(lambda r: r.url.endswith("/templates/preview/")):
        page.click("[data-insert=field]")
    page.wait_for_selector("#template-preview .preview-box")
    width, height = _size(page, "#template-preview .preview-box")
    assert width > 5 and height > 5

    page.goto(f"{base}/send/{document_id}/")
    page.click("#send-form button.primary")
    page.wait_for_url("**/envelopes/*/")
    envelope = Envelope.objects.get(document_id=document_id)
    assert Document.objects.filter(pk=document_id).exists()
    page.goto(f"{base}/board/")
    page.wait_for_selector(f"#card-{envelope.pk}")

    from signing.demo import _stamp

    stamp = tmp_path / "cachet.png"
    stamp.write_bytes(_stamp())
    director = _outbox_link(page, base, "invitation", "claire.dubois")
    _sign(browser, base, director, "claire.dubois", str(stamp))
    client_link = _outbox_link(page, base, "invitation", "martin")
    _sign(browser, base, client_link, "martin", None)

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
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "csp-verified.png"), full_page=True)
