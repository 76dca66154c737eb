"""The board in Chromium: it opens, a filter narrows it, "remind now" queues one message and
shows it on the card, and a signature made elsewhere moves the card without a reload."""

import pytest
from django.contrib.auth.models import User

from signing.models import Envelope, Message
from tests.board.conftest import director_signs
from tests.browser_support import ARTIFACTS, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, user: User) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pass-" + user.username)
    page.click("main form button.primary")
    page.wait_for_url("**/board/")


def test_the_board_filters_reminds_and_follows_a_signature_live(
    browser, live_server, sender: User, sent_envelope: Envelope
):
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    _log_in(page, live_server, sender)
    card = f"#card-{sent_envelope.pk}"
    assert page.locator(f"[data-column=awaiting_company] {card}").count() == 1

    # A filter narrows the board, and lives in the URL.
    page.fill("input[name=q]", "no such document")
    page.wait_for_selector(card, state="detached")
    assert "q=no+such+document" in page.url
    page.fill("input[name=q]", sent_envelope.title[:7])
    page.wait_for_selector(card)

    # Remind now: one message queued, shown on the card, no page load.
    page.evaluate("window.notReloaded = true")
    before = Message.objects.filter(envelope=sent_envelope).count()
    page.click(f"{card} [data-action=remind]")
    page.wait_for_selector(f"{card} .notice")
    assert "Reminder queued" in page.inner_text(f"{card} .notice")
    assert Message.objects.filter(envelope=sent_envelope).count() == before + 1
    reminder = Message.objects.filter(envelope=sent_envelope).latest("id")
    assert reminder.template == "reminder"
    page.wait_for_selector(f'{card} [data-message="{reminder.pk}"]')

    # The director signs elsewhere: the card moves to "Awaiting client" by itself.
    director_signs(sent_envelope)
    page.wait_for_selector(f"[data-column=awaiting_client] {card}", timeout=12_000)
    assert page.locator(f"[data-column=awaiting_company] {card}").count() == 0
    assert page.evaluate("window.notReloaded") is True
    assert page.inner_text("[data-column=awaiting_client] .count") == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-live.png"), full_page=True)
    context.close()
