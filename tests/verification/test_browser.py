"""The verification page in Debian's Chromium: an authentic and a tampered upload."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.verification import pdfs
from tests.verification.test_verify import change_amount
from verification.services import seal_pdf

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]


def _seal_in_thread() -> bytes:
    # pyHanko calls asyncio.run(), which refuses to run inside Playwright's event loop.
    out: dict[str, Any] = {}

    def work() -> None:
        from django.db import connections

        try:
            document = seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata())
            with document.file.open("rb") as fh:
                out["data"] = fh.read()
        finally:
            connections.close_all()  # or PostgreSQL cannot drop the test database

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(120)
    return bytes(out["data"])


def test_a_visitor_sees_both_verdicts_and_the_highlighted_change(
    transactional_db: None, live_server: Any, tmp_path: Path
) -> None:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    sealed = _seal_in_thread()
    authentic = tmp_path / "facture.pdf"
    authentic.write_bytes(sealed)
    tampered = tmp_path / "facture-modifiee.pdf"
    tampered.write_bytes(change_amount(sealed))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(locale="fr-FR")
        page.goto(f"{live_server.url}/verify/")
        page.set_input_files("#verify-file", str(authentic))
        page.click("button.primary")
        page.wait_for_selector(".verdict.authentic", timeout=30_000)
        assert "Authentique" in page.inner_text(".verdict")

        page.goto(f"{live_server.url}/verify/")
        page.set_input_files("#verify-file", str(tampered))
        page.click("button.primary")
        page.wait_for_selector(".verdict.modified", timeout=30_000)
        assert "10 000,00 €" in page.inner_text("#text-changes")
        images = page.locator("#page-diff-1 img")
        assert images.count() == 2
        assert images.first.evaluate("img => img.naturalWidth") > 0
        browser.close()
