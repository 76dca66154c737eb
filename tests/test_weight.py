"""The signer page's weight (issue 13): at most 60 KB of CSS, JavaScript and fonts transferred,
compressed, on a first load of the code step and of the signing step, served as in production
(collectstatic's Brotli/gzip copies through WhiteNoise). The figure comes from
bench/bench_weight.py, whose functions this test uses. And /favicon.ico is an icon, not a 404."""

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.browser_story import committed_data, in_own_thread, serving
from tests.browser_support import needs_chromium

_spec = importlib.util.spec_from_file_location(
    "bench_weight", Path(settings.BASE_DIR) / "bench" / "bench_weight.py"
)
assert _spec is not None and _spec.loader is not None
bench_weight: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_weight)


@pytest.mark.browser
@needs_chromium
@pytest.mark.django_db
def test_the_signer_page_loads_at_most_60_kb_of_css_js_and_fonts(
    browser, django_db_blocker, tmp_path
):
    static_root = tmp_path / "static"
    bench_weight.collect_static(static_root)
    with (
        committed_data(django_db_blocker),
        serving(lambda app: app, STATIC_ROOT=static_root, MEDIA_ROOT=tmp_path / "media") as base,
    ):
        path, session = in_own_thread(bench_weight.sent_envelope_signer)
        results = bench_weight.measure(browser, base, path, session)

    for step, result in results.items():
        names = [item["url"].rsplit("/", 1)[-1] for item in result["files"]]
        assert result["errors"] == [], (step, result["errors"])
        assert result["bytes"] <= bench_weight.BUDGET_BYTES, (step, result["files"])
        assert "htmx.min.js" not in names, step
        assert all(
            item["encoding"] in {"br", "gzip"}
            for item in result["files"]
            if not item["url"].endswith(".woff2")
        ), result["files"]
    signing_fonts = [item for item in results["signing step"]["files"] if item["type"] == "Font"]
    assert [item["url"].rsplit("/", 1)[-1] for item in signing_fonts] in (
        [],
        ["DancingScript-subset.woff2"],
    )


def test_favicon_ico_is_an_icon(client: Client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # ICO header
    assert client.post("/favicon.ico").status_code == 405
