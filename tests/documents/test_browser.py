"""The field editor in Chromium: upload a PDF, add a client signature, drag it, save, reload."""

import pytest
from django.contrib.auth.models import User

from documents.models import Document, Field
from tests.browser_support import ARTIFACTS, needs_chromium
from tests.documents.conftest import blank_pdf

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]

A4 = (595.28, 841.89)


def _log_in(page, live_server, user: User) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pass-" + user.username)
    page.click("main form button.primary")
    page.wait_for_url("**/board/")


def _box_in_page(page, field_id: int) -> dict[str, float]:
    """The box's rectangle as a fraction of its page image (top-left origin)."""
    return page.evaluate(
        """(id) => {
            const box = document.getElementById('box-' + id).getBoundingClientRect();
            const sheet = document.getElementById('box-' + id).closest('.editor-page')
                .getBoundingClientRect();
            return {left: (box.left - sheet.left) / sheet.width,
                    top: (box.top - sheet.top) / sheet.height,
                    width: box.width / sheet.width, height: box.height / sheet.height};
        }""",
        field_id,
    )


def test_an_employee_places_a_client_signature_and_finds_it_where_it_was_left(
    browser, live_server, sender: User, tmp_path
):
    pdf_file = tmp_path / "contrat.pdf"
    pdf_file.write_bytes(blank_pdf(pages=2))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, live_server, sender)

    page.goto(f"{live_server.url}/documents/upload/")
    page.fill("#id_title", "Contrat de maintenance")
    page.set_input_files("#id_file", str(pdf_file))
    page.select_option("#id_language", "fr")
    page.click("main form button.primary")
    page.wait_for_url("**/send/*/")
    document = Document.objects.get(title="Contrat de maintenance")
    assert document.created_by == sender

    page.goto(f"{live_server.url}/documents/{document.pk}/fields/")
    before = set(document.fields.values_list("pk", flat=True))
    add_form = page.locator("form#add-field")
    add_form.locator("select[name=kind]").select_option("signature")
    add_form.locator("select[name=role]").select_option("client")
    add_form.locator("input[name=page]").fill("1")
    add_form.locator("input[name=label]").fill("Bon pour accord")
    add_form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Bon pour accord")
    added = Field.objects.get(document=document, label="Bon pour accord")
    assert added.pk not in before
    assert (added.kind, added.role, added.page) == ("signature", "client", 1)
    start = (added.x, added.y)

    # Drag the box 200 px right and 150 px down with the mouse.
    box = page.locator(f"#box-{added.pk}")
    box.scroll_into_view_if_needed()
    bounds = box.bounding_box()
    assert bounds is not None
    sheet = page.locator(".editor-page[data-page='1']").bounding_box()
    assert sheet is not None
    x0, y0 = bounds["x"] + bounds["width"] / 2, bounds["y"] + bounds["height"] / 2
    with page.expect_response(lambda r: f"/fields/{added.pk}/" in r.url) as saved:
        page.mouse.move(x0, y0)
        page.mouse.down()
        for step in range(1, 11):
            page.mouse.move(x0 + 20 * step, y0 + 15 * step)
        page.mouse.up()
    assert saved.value.status == 200
    page.wait_for_function(
        "(id) => !document.querySelector('#row-' + id + '.htmx-request')", arg=added.pk
    )
    added.refresh_from_db()
    scale = A4[0] / sheet["width"]  # points per CSS px on this page
    assert added.x == pytest.approx(start[0] + 200 * scale, abs=2)
    assert added.y == pytest.approx(start[1] - 150 * scale, abs=2)
    left_here = _box_in_page(page, added.pk)

    page.reload()
    page.wait_for_selector(f"#box-{added.pk}")
    after_reload = _box_in_page(page, added.pk)
    for name in ("left", "top", "width", "height"):
        assert after_reload[name] == pytest.approx(left_here[name], abs=0.003), name
    # The box on the page is the stored rectangle, converted from points (bottom-left origin).
    assert after_reload["left"] == pytest.approx(added.x / A4[0], abs=0.003)
    assert after_reload["top"] == pytest.approx(1 - (added.y + added.height) / A4[1], abs=0.003)
    row = page.locator(f"#row-{added.pk}")
    assert float(row.locator("input[name=x]").input_value()) == pytest.approx(added.x, abs=0.1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "field-editor.png"), full_page=True)
    assert errors == []
    context.close()


def test_keyboard_arrows_move_the_focused_field_and_save_it(
    browser, live_server, sender: User, tmp_path
):
    pdf_file = tmp_path / "contrat.pdf"
    pdf_file.write_bytes(blank_pdf(pages=1))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _log_in(page, live_server, sender)
    page.goto(f"{live_server.url}/documents/upload/")
    page.fill("#id_title", "Devis")
    page.set_input_files("#id_file", str(pdf_file))
    page.click("main form button.primary")
    page.wait_for_url("**/send/*/")
    document = Document.objects.get(title="Devis")
    field = document.fields.get(key="client-signature")
    page.goto(f"{live_server.url}/documents/{document.pk}/fields/")
    page.focus(f"#box-{field.pk}")
    with page.expect_response(lambda r: f"/fields/{field.pk}/" in r.url):
        page.keyboard.press("Shift+ArrowLeft")
        page.keyboard.press("ArrowUp")
    moved = Field.objects.get(pk=field.pk)
    assert moved.x == pytest.approx(field.x - 10, abs=0.11)
    assert moved.y == pytest.approx(field.y + 1, abs=0.11)
    context.close()


def test_the_template_editor_inserts_a_field_and_the_preview_follows(
    browser, live_server, sender: User
):
    from documents.models import DocumentTemplate

    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, live_server, sender)
    page.goto(f"{live_server.url}/documents/templates/new/")
    page.wait_for_selector("#template-preview img")
    assert page.locator(".template-toolbar").is_visible()
    page.fill("#id_name", "Bon de commande")
    page.fill("#id_body", "<h1>{{ client.legal_name }}</h1>\n")
    page.locator("#id_body").press("End")
    page.select_option("#tag-kind", "stamp")
    page.select_option("#tag-party", "company")
    with page.expect_response(lambda r: r.url.endswith("/templates/preview/")) as preview:
        page.click("[data-insert=field]")
    assert preview.value.status == 200
    page.wait_for_selector("#template-preview .preview-box.party-company")
    assert '{% field "stamp" party="company" %}' in page.input_value("#id_body")

    # A mistake: the preview says what and where, the page does not break.
    page.locator("#id_body").press("Control+End")
    with page.expect_response(lambda r: r.url.endswith("/templates/preview/")):
        page.keyboard.type("\n{% if client.is_company %}")
    page.wait_for_selector("#template-preview .template-error")
    assert "line 3" in page.inner_text("#template-preview .template-error")

    page.fill("#id_body", '<p>{{ company.legal_name }}</p>{% field "signature" %}')
    page.click("#template-form button.primary")
    page.wait_for_url("**/documents/templates/*/")
    template = DocumentTemplate.objects.get(name="Bon de commande")
    assert template.created_by == sender
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "template-editor.png"), full_page=True)
    assert errors == []
    context.close()
