"""Weight of the signer page: CSS, JavaScript and fonts transferred on a first load, compressed.

    .venv/bin/python bench/bench_weight.py

Measures what production serves: DEBUG off, `collectstatic` into a temporary folder (Brotli and
gzip copies), WhiteNoise serving them to Debian's Chromium (Playwright), the browser cache off.
Counts the bytes received (headers included) for stylesheets, scripts and fonts on the code
step (a signer opening the link) and on the signing step (after the code), page images not
counted, and prints each figure against the 60 KB budget of issue 13 with a PASS/MISS line.
Runs on a temporary SQLite database with the demo data (one envelope sent).
tests/test_weight.py asserts the same budget with these functions.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

# Also when tests/test_weight.py loads this file as a module: bench/ on the path for _report.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report as bench_line  # noqa: E402

BUDGET_BYTES = 60 * 1024
COUNTED_TYPES = {"Stylesheet", "Script", "Font"}
# Served files that no page loads, or only the PDFs read from static/fonts directly: skipping
# them keeps collectstatic short.
COLLECT_IGNORE = ["DejaVuSans*", "axe-core", "admin"]
CODE_RE = re.compile(r"\b(\d{6})\b")


def collect_static(root: Path) -> None:
    """collectstatic into `root` with the compressed copies, as the image does."""
    from django.core.management import call_command
    from django.test import override_settings

    with override_settings(STATIC_ROOT=root):
        call_command(
            "collectstatic", interactive=False, verbosity=0, ignore_patterns=COLLECT_IGNORE
        )


def sent_envelope_signer(invoice_index: int = 0) -> tuple[str, str]:
    """A demo envelope sent; the director's link path and a session that confirmed the code."""
    from django.conf import settings
    from django.core import mail
    from django.test import Client

    from signing import demo
    from signing.models import Message, Party

    envelope = demo.demo_envelope(complete=False, language="fr", invoice_index=invoice_index)
    director = envelope.parties.get(role=Party.Role.COMPANY)
    invitation = Message.objects.filter(party=director, template="invitation").latest("id")
    match = re.search(r"/s/[A-Za-z0-9_\-]+/", invitation.body)
    assert match is not None, invitation.body
    path = match.group(0)
    client = Client()
    client.get(path)
    client.post(f"{path}code/send/")
    # The outbox row masks the code unless the development outbox is on; the e-mail has it
    # (the test environment's in-memory mailbox).
    bodies = [Message.objects.filter(party=director, template="code").latest("id").body]
    bodies += [str(email.body) for email in reversed(mail.outbox) if director.email in email.to]
    found = next((m for m in map(CODE_RE.search, bodies) if m is not None), None)
    assert found is not None, bodies
    client.post(f"{path}code/", {"code": found.group(1)})
    return path, client.cookies[settings.SESSION_COOKIE_NAME].value


def first_load(browser: Any, url: str, session: str = "") -> dict[str, Any]:
    """Bytes received for CSS, JS and fonts when `url` loads with an empty cache."""
    from django.conf import settings

    context = browser.new_context(locale="fr-FR")
    if session:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": url}])
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    responses: dict[str, dict[str, Any]] = {}
    received: dict[str, int] = {}

    def on_response(event: dict[str, Any]) -> None:
        response = event["response"]
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        responses[event["requestId"]] = {
            "type": event["type"],
            "url": response["url"],
            "status": response["status"],
            "encoding": headers.get("content-encoding", ""),
        }

    cdp.on("Network.responseReceived", on_response)
    cdp.on(
        "Network.loadingFinished",
        lambda event: received.__setitem__(event["requestId"], int(event["encodedDataLength"])),
    )
    page.goto(url)
    page.wait_for_load_state("networkidle")
    files = [
        {**response, "bytes": received.get(request_id, 0)}
        for request_id, response in responses.items()
        if response["type"] in COUNTED_TYPES
    ]
    others = [response for response in responses.values() if response["type"] not in COUNTED_TYPES]
    context.close()
    return {
        "bytes": sum(item["bytes"] for item in files),
        "files": sorted(files, key=lambda item: -item["bytes"]),
        "errors": [r for r in [*files, *others] if r["status"] >= 400],
    }


def measure(browser: Any, base: str, path: str, session: str) -> dict[str, dict[str, Any]]:
    return {
        "code step": first_load(browser, base + path),
        "signing step": first_load(browser, base + path, session),
    }


def report(results: dict[str, dict[str, Any]]) -> bool:
    ok = True
    for step, result in results.items():
        for item in result["files"]:
            name = item["url"].rsplit("/", 1)[-1]
            print(f"  {step:<13} {name:<36} {item['bytes']:>7} B  {item['encoding'] or 'identity'}")
        verdict = "PASS" if result["bytes"] <= BUDGET_BYTES else "MISS"
        ok = ok and verdict == "PASS"
        print(
            f"{verdict} {step}: {result['bytes'] / 1024:.1f} KB of CSS+JS+fonts transferred "
            f"(target {BUDGET_BYTES // 1024} KB)"
        )
        # The "floor" is the budget itself: a page weight has no library underneath to race.
        bench_line(
            f"signer-weight-{step.replace(' ', '-')}",
            project=result["bytes"] / 1024,
            floor=BUDGET_BYTES / 1024,
            ratio=result["bytes"] / BUDGET_BYTES,
            target=1.0,
            unit="KB",
        )
        for error in result["errors"]:
            print(f"  error {error['status']}: {error['url']}")
    return ok


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    work = Path(tempfile.mkdtemp(prefix="sf-bench-weight-"))
    # Production's serving: DEBUG off (WhiteNoise serves STATIC_ROOT, compressed copies).
    os.environ["DEBUG"] = "0"
    os.environ["SIGNFLOW_DEV_OUTBOX"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-weight-only")
    os.environ["SIGNFLOW_VAR_DIR"] = str(work)
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment
    from playwright.sync_api import sync_playwright

    from tests.browser_story import serving
    from tests.browser_support import ARGS, CHROMIUM

    setup_test_environment()  # the test client and ALLOWED_HOSTS "testserver"
    call_command("migrate", verbosity=0)
    static_root = work / "static"
    collect_static(static_root)
    path, session = sent_envelope_signer()
    with serving(lambda app: app, STATIC_ROOT=static_root) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        results = measure(browser, base, path, session)
        browser.close()
    ok = report(results)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
