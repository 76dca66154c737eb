"""Every page of the story fits a 360 px wide phone: nothing scrolls sideways (issue 13)."""

import json

import pytest

from tests.browser_story import LANGUAGES, PHONE_360, Story, story  # noqa: F401
from tests.browser_support import ARTIFACTS, needs_chromium

# The mark only has the test database created; the story commits its own data (browser_story).
pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.django_db]

# Elements whose right edge passes the viewport, ignoring what an ancestor clips or scrolls
# (a table in an overflow:auto wrapper scrolls on its own, the page does not).
OVERFLOWING = """
(width) => {
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 0.5 && !clipped(el)) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""} right=${Math.round(box.right)}`);
    }
  }
  const root = document.documentElement;
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, out: out.slice(0, 8)};
}
"""


WIDTH = PHONE_360["viewport"]["width"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_of_the_story_fits_a_360_px_phone(browser, story: Story, language: str):  # noqa: F811
    # Every page's screenshot at 360 px is kept (test-artifacts/phone/), wide or not.
    shots = ARTIFACTS / "phone"
    shots.mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS / f"too-wide-{language}.json"
    report.unlink(missing_ok=True)
    too_wide = {}
    for story_page in story.pages_in(language):
        page = story.open(browser, story_page, language=language, device=PHONE_360)
        found = page.evaluate(OVERFLOWING, WIDTH)
        # A phone widens its layout viewport to fit content that overflows: clientWidth too.
        if found["scrollWidth"] > WIDTH or found["clientWidth"] > WIDTH or found["out"]:
            too_wide[story_page.name] = found
        slug = story_page.name.replace(" ", "-")
        page.screenshot(path=str(shots / f"{language}-{slug}.png"), full_page=True)
        page.context.close()
    if too_wide:
        report.write_text(json.dumps(too_wide, indent=1))
    assert too_wide == {}, too_wide
