"""The field editor's overlap warning in Chromium: a field moved with the keyboard onto the
page's text is flagged at once, and the flag goes when it moves back to empty space."""

import pytest
from django.contrib.auth.models import User

from documents.services import document_create_from_upload, field_create
from tests.browser_support import needs_chromium
from tests.documents.conftest import upload
from tests.documents.rotated_pdfs import Case, make_pdf

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


def test_moving_a_field_onto_text_warns_and_moving_it_away_clears_the_warning(
    browser, live_server, sender: User
) -> None:
    data = make_pdf(Case("a4", 0), texts=[(60, 700, "Article 1 - Objet du contrat")])
    document = document_create_from_upload(
        uploaded_file=upload(data), title="Contrat cadre", creator=sender, language="en"
    )
    field = field_create(
        document=document, kind="text", role="client", page=1, x=80, y=640, width=120, height=20
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", sender.username)
    page.fill("#id_password", "pass-" + sender.username)
    page.click("main form button.primary")
    page.wait_for_url("**/board/")
    page.goto(f"{live_server.url}/documents/{document.pk}/fields/")
    assert page.get_attribute("#back-to-send", "href") == f"/send/{document.pk}/"
    warning = f"#row-{field.pk} [data-overlap-warning]"
    box = f"#box-{field.pk}"
    assert page.is_hidden(warning)
    page.focus(box)
    for _ in range(6):  # Shift+Up: 10 pt each, from y=640 onto the text at y=700
        page.keyboard.press("Shift+ArrowUp")
    page.wait_for_selector(f"{box}.overlaps")
    assert page.is_visible(warning)
    assert "covers text or an image" in page.inner_text(warning)
    for _ in range(6):
        page.keyboard.press("Shift+ArrowDown")
    page.wait_for_selector(f"{box}:not(.overlaps)")
    page.wait_for_timeout(800)  # the debounced save and its htmx swap of the row
    assert page.is_hidden(warning)
    context.close()
