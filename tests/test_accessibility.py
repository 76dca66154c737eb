"""WCAG 2.1 AA in Chromium: axe-core (vendored, static/vendor/axe-core) finds no serious or
critical violation on any page of the story, on a desktop and on a 360 px phone, in English and
French (issue 13). Keyboard-only signing is covered in tests/signing/test_browser.py."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from tests.browser_story import DESKTOP, LANGUAGES, PHONE_360, Story, story  # noqa: F401
from tests.browser_support import ARTIFACTS, needs_chromium

# The mark only has the test database created; the story commits its own data (browser_story).
pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db]

AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """
async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " :: " + n.failureSummary.slice(0, 200))}));
}
"""
# axe is injected as an inline script, which the Content-Security-Policy refuses: the test's
# browser bypasses the policy (tests/security/test_csp_browser.py checks the policy itself).
DEVICES = {"desktop": {**DESKTOP, "bypass_csp": True}, "phone": {**PHONE_360, "bypass_csp": True}}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_serious_accessibility_violation_on_any_page(
    browser,
    story: Story,  # noqa: F811
    language: str,
    device: str,
):
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / f"axe-{device}-{language}.json"
    report.unlink(missing_ok=True)
    found = {}
    for story_page in story.pages_in(language):
        page = story.open(browser, story_page, language=language, device=DEVICES[device])
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(RUN_AXE)
        if violations:
            found[story_page.name] = violations
        page.context.close()
    if found:
        report.write_text(json.dumps(found, indent=1, ensure_ascii=False))
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)[:4000]
