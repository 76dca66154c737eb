"""The interactive API docs in Chromium: Swagger UI renders every operation from our own
static files with no Content-Security-Policy violation and no script error, and its Authorize
button takes a key and calls the API with it."""

import pytest
from django.contrib.auth.models import User

from tests.api.conftest import api_for
from tests.browser_support import needs_chromium
from tests.security.test_csp_browser import Watch

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_works_under_the_strict_policy(browser, live_server, sender: User) -> None:
    token = api_for(sender).token
    context = browser.new_context()
    watch = Watch(context)
    outside: list[str] = []
    context.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((live_server.url, "data:", "blob:"))
            else None
        ),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "SignFlow API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 20

    # Authorize with a key, then try GET /envelopes from the page.
    page.click("button.authorize")
    page.fill(".modal-ux input[type=text], .modal-ux input[type=password]", token)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.close-modal")
    operation = page.locator("#operations-Envelopes-envelope_list")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    cell = operation.locator(".live-responses-table tbody .response-col_status").first
    cell.wait_for(timeout=20_000)
    status = cell.inner_text()
    assert status.strip() == "200"
    context.close()
    watch.assert_clean()
    assert outside == []
