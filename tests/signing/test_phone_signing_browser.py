"""Signing on a phone in Chromium: guided Start/Next, tap a box to fill it, the value in place,
Finish only at the end, the full-size view, the copy before signing; the same form without
JavaScript; and the desktop layout. Screenshots of each step go to SIGNFLOW_ARTIFACTS (default
test-artifacts/phone-signing/)."""

import io
import os
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image
from playwright.sync_api import expect

from documents.models import Field
from signing.models import Envelope, Event, FieldValue, Message, Party
from tests.browser_support import ARTIFACTS, needs_chromium
from tests.signing.conftest import code_in, link_token, sign_with_code, stamp_png
from tests.signing.test_phone_signing import director_signs

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("SIGNFLOW_ARTIFACTS") or ARTIFACTS) / "phone-signing"
PHONE_360 = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def _shot(page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _open_confirmed(page, live_server, envelope: Envelope, role: str) -> None:
    invitation = Message.objects.filter(
        envelope=envelope, template="invitation", party__role=role
    ).latest("id")
    page.goto(f"{live_server.url}/s/{link_token(invitation)}/")
    page.click("#send-code")
    page.wait_for_selector("#code")
    code = Message.objects.filter(
        envelope=envelope, template="code", recipient=invitation.recipient
    ).latest("id")
    page.fill("#code", code_in(code))
    page.click("#code-step button.primary")
    page.wait_for_selector("#sign-form")


def _in_viewport(page, selector: str) -> bool:
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }",
    )


def _draw(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 15, y)
    page.mouse.down()
    for step in range(1, 10):
        page.mouse.move(box["x"] + 15 + step * 14, y + (12 if step % 2 else -12))
    page.mouse.up()


def test_the_director_signs_guided_on_a_360_px_phone(
    browser, live_server, sent_envelope: Envelope, tmp_path
):
    stamp_file = tmp_path / "cachet.png"
    stamp_file.write_bytes(stamp_png())
    # A second signature field for the director, square and low on the page: the signature
    # made in the first box is offered there.
    Field.objects.create(
        document=sent_envelope.document,
        key="company-initials",
        kind=Field.Kind.INITIALS,
        role=Field.Role.COMPANY,
        page=1,
        x=480,
        y=30,
        width=40,
        height=40,
        label="Initials",
    )
    context = browser.new_context(**PHONE_360)
    page = context.new_page()
    _open_confirmed(page, live_server, sent_envelope, "company")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360

    # The first page image is picked for a 3x screen, and is not lazy.
    first = page.locator("#page-1 .doc-page-link img")
    first.evaluate("img => img.decode()")
    assert "size=large" in first.evaluate("img => img.currentSrc")
    assert first.get_attribute("loading") is None
    _shot(page, "1-phone-start")

    # A tap on the page opens it full size; the buttons zoom (pinch uses the same transform).
    page.click("#page-1 .doc-page-link", position={"x": 20, "y": 20})
    page.wait_for_selector("#zoom-dialog[open]")
    zoom_img = page.locator("[data-zoom-img]")
    zoom_img.evaluate("img => img.decode()")
    assert zoom_img.evaluate("img => img.naturalWidth") == 2000
    page.click("[data-zoom-step='1']")
    assert "scale(1.5)" in zoom_img.evaluate("img => img.style.transform")
    _shot(page, "2-phone-zoom")
    page.click("[data-zoom-close]")

    # The copy before signing downloads, and is in the audit trail.
    with page.expect_download() as download_info:
        page.click("#copy-download")
    copy = Path(download_info.value.path()).read_bytes()
    assert copy.startswith(b"%PDF")
    assert Event.objects.filter(envelope=sent_envelope, type=Event.Type.COPY_DOWNLOADED).exists()

    # Guided: Finish waits; Start goes to the first required box.
    finish = page.locator(".sign-bar [data-finish]")
    assert finish.is_disabled()
    page.click("[data-guide-next]")
    current = "a.fieldbox.current"
    page.wait_for_selector(current)
    assert page.get_attribute(current, "data-kind") == "signature"
    page.wait_for_function(
        "() => { const r = document.querySelector('a.fieldbox.current')"
        ".getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert page.locator("[data-guide-next]").inner_text() == "Next"

    # Tap the box: the signature capture opens; the pad has the box's shape.
    page.locator(current).tap()
    page.wait_for_selector("#field-dialog[open]")
    page.locator("#field-dialog input[value=drawn]").check(force=True)
    shape = page.get_attribute("a.fieldbox[data-kind=signature]", "data-shape")
    assert shape is not None
    box_w, box_h = (float(v) for v in shape.split("/"))
    pad = page.locator("#field-dialog canvas[data-sigpad]").bounding_box()
    assert pad is not None
    assert abs(pad["width"] / pad["height"] - box_w / box_h) < 0.05
    _draw(page, "#field-dialog canvas[data-sigpad]")
    _shot(page, "3-phone-pad")
    page.click("[data-field-done]")
    ink = page.locator("a.fieldbox[data-kind=signature] [data-overlay-img]")
    expect(ink).to_be_visible()
    assert ink.get_attribute("src").startswith("data:image/png")
    assert finish.is_disabled()  # the stamp is still to do

    page.click("[data-guide-next]")
    assert page.get_attribute(current, "data-kind") == "stamp"
    page.locator(current).tap()
    page.wait_for_selector("#field-dialog[open]")
    page.set_input_files("#field-dialog input[name=stamp-file]", str(stamp_file))
    page.click("[data-field-done]")
    expect(page.locator("a.fieldbox[data-kind=stamp] [data-overlay-img]")).to_be_visible()
    assert finish.is_disabled()  # the initials are left

    page.click("[data-guide-next]")
    assert page.get_attribute(current, "data-kind") == "initials"
    page.locator(current).tap()
    page.wait_for_selector("#field-dialog[open]")
    expect(page.locator("#field-dialog [data-reuse]")).to_be_visible()
    page.click("[data-field-done]")
    expect(page.locator("a.fieldbox[data-kind=initials] [data-overlay-img]")).to_be_visible()
    expect(finish).to_be_enabled()
    _shot(page, "4-phone-filled")

    # Finish without the consent: the message is next to the box, nothing sent.
    finish.click()
    page.wait_for_selector("#consent-block #error-consent")
    assert _in_viewport(page, "#consent-block")
    _shot(page, "5-phone-consent")
    page.check("input[name=consent]")
    finish.click()
    page.wait_for_selector(".verdict.authentic")
    # The confirmation shows the page with the signature and the stamp in place.
    placed = page.locator(".doc-page .fieldbox.has-value img.fieldbox-ink")
    assert placed.count() >= 2
    _shot(page, "6-phone-signed", full_page=True)
    context.close()

    director = sent_envelope.parties.get(role="company")
    assert director.status == Party.Status.SIGNED
    assert director.signature_method == "drawn"
    signature = FieldValue.objects.get(party=director, field__kind="signature")
    with signature.image.open("rb") as fh:
        stored = Image.open(io.BytesIO(fh.read()))
    assert abs(stored.width / stored.height - box_w / box_h) < 0.03
    # The same drawing in the square initials box, fitted to its own shape.
    initials = FieldValue.objects.get(party=director, field__kind="initials")
    assert initials.method == "drawn"
    with initials.image.open("rb") as fh:
        square = Image.open(io.BytesIO(fh.read()))
    assert square.width == square.height


def test_without_javascript_the_form_signs_and_keeps_values_after_an_error(
    browser, live_server, sent_envelope: Envelope, tmp_path
):
    stamp_file = tmp_path / "cachet.png"
    stamp_file.write_bytes(stamp_png())
    context = browser.new_context(**PHONE_360, java_script_enabled=False)
    page = context.new_page()
    _open_confirmed(page, live_server, sent_envelope, "company")
    assert page.locator(".sign-bar").is_hidden()  # the guide needs JavaScript
    page.fill("#signature-typed", "")
    page.set_input_files("#stamp-file", str(stamp_file))
    page.check("input[name=consent]")
    page.click("#sign-button")
    page.wait_for_selector("#error-signature")
    # Next to the signature, its input described by it; the consent still ticked.
    assert page.get_attribute("#signature-typed", "aria-describedby") == "error-signature"
    assert page.is_checked("input[name=consent]")
    # The browser went to it by itself (autofocus): not the top of a long page.
    assert _in_viewport(page, "#signature-typed")
    _shot(page, "7-nojs-error")
    page.fill("#signature-typed", "Claire Dubois")
    page.set_input_files("#stamp-file", str(stamp_file))  # a browser never refills a file
    page.click("#sign-button")
    page.wait_for_selector(".verdict.authentic")
    context.close()
    assert sent_envelope.parties.get(role="company").status == Party.Status.SIGNED


def test_the_client_taps_to_sign_on_a_desktop(
    browser, live_server, sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    director, token = (
        Client(),
        link_token(
            Message.objects.get(
                envelope=sent_envelope, template="invitation", party__role="company"
            )
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(director, token, "claire.dubois@atelier-lumiere.fr")
        director_signs(director, token)
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    _open_confirmed(page, live_server, sent_envelope, "client")
    # The director's signature is already in place on the page.
    assert page.locator(".fieldbox.has-value img.fieldbox-ink").count() >= 2
    finish = page.locator(".sign-bar [data-finish]")
    assert finish.is_disabled()
    # With the keyboard only: the box is a link, Enter opens it, Tab walks the dialog.
    page.focus("a.fieldbox[data-kind=signature]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#field-dialog[open]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "signature-typed"
    page.keyboard.press("Control+A")
    page.keyboard.type("Paul Martin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.hasAttribute('data-field-done')")
    page.keyboard.press("Enter")
    expect(page.locator("a.fieldbox[data-kind=signature] [data-overlay-img]")).to_be_visible()
    expect(finish).to_be_enabled()
    page.check("input[name=consent]")
    _shot(page, "8-desktop-filled")
    finish.click()
    page.wait_for_selector(".verdict.authentic")
    context.close()
    client = sent_envelope.parties.get(role="client")
    assert client.status == Party.Status.SIGNED
    assert client.signature_method == "typed"
