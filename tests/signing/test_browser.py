"""Browser tests in Chromium: the employee's board, and both signers on a phone-sized screen."""

import pytest
from django.contrib.auth.models import User

from signing.models import Envelope, Message
from tests.browser_support import ARTIFACTS, PHONE, needs_chromium
from tests.signing.conftest import code_in, link_token
from tests.signing.conftest import stamp_png as make_stamp

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


def test_an_employee_logs_in_and_sees_the_board(
    browser, live_server, sender: User, sent_envelope: Envelope
):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", sender.username)
    page.fill("#id_password", "pass-" + sender.username)
    page.click("main form button.primary")
    page.wait_for_url("**/board/")
    column = page.locator("[data-column=awaiting_company]")
    assert sent_envelope.title in column.inner_text()
    page.click(f"text={sent_envelope.title}")
    page.wait_for_url(f"**/envelopes/{sent_envelope.pk}/")
    assert "Claire Dubois" in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "envelope.png"), full_page=True)
    context.close()


def _confirm_code(page, envelope: Envelope, recipient: str) -> None:
    page.click("#send-code")
    page.wait_for_selector("#code")
    message = Message.objects.filter(
        envelope=envelope, template="code", recipient=recipient
    ).latest("id")
    page.fill("#code", code_in(message))
    page.click("#code-step button.primary")
    page.wait_for_selector("#sign-form")


def test_the_director_draws_and_stamps_then_the_client_types_on_a_phone(
    browser,
    live_server,
    sent_envelope: Envelope,
    tmp_path,  # noqa: F811
):
    stamp_file = tmp_path / "cachet.png"
    stamp_file.write_bytes(make_stamp())
    director_link = Message.objects.get(
        envelope=sent_envelope, template="invitation", party__role="company"
    )

    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{link_token(director_link)}/")
    _confirm_code(page, sent_envelope, director_link.recipient)
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
    page.set_input_files("input[name=stamp-file]", str(stamp_file))
    page.check("input[name=consent]")
    page.click("#sign-button")
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector(".verdict.authentic")
    assert "You have signed this document" in page.inner_text(".verdict.authentic")
    page.screenshot(path=str(ARTIFACTS / "director-signed.png"))
    context.close()

    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_CLIENT
    director = sent_envelope.parties.get(role="company")
    assert director.signature_method == "drawn"

    client_link = Message.objects.get(
        envelope=sent_envelope, template="invitation", party__role="client"
    )
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{link_token(client_link)}/")
    _confirm_code(page, sent_envelope, client_link.recipient)
    page.fill("#signature-typed", "Paul Martin")
    page.check("input[name=consent]")
    page.click("#sign-button")
    page.wait_for_selector(".verdict.authentic")
    page.screenshot(path=str(ARTIFACTS / "client-signed.png"), full_page=True)
    context.close()

    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.COMPLETED, sent_envelope.sealing_error
    assert sent_envelope.parties.get(role="client").signature_method == "typed"
