"""The built-in templates look as they did before their flex layouts and automatic table
widths were replaced (issue 17): every page of each sample is compared with the reference
images rendered from the old templates (tests/documents/look/, 50 dpi, grey), and the field
rectangles with the old ones.

The lines table now has fixed column widths, those the automatic layout gave an invoice whose
descriptions fill the width, the totals' column wide enough for 9 999 999,99 € (the automatic
layout widened it for such an amount; fixed, it must be wide enough from the start). So the
French invoices' columns sit a few points from where they were (and an invoice of short
one-line descriptions, whose columns used to spread out, has them where the others do): for
those samples the test checks that every row of text stays on its line and page (where the ink
is, pixel row by pixel row), and the field rectangles to the tenth of a point; the others
(English invoice, agreement, NDA) are compared pixel by pixel.
"""

import json
from decimal import Decimal

import pytest
from PIL import Image

from tests.documents import look

# Share of pixels allowed to differ: anti-aliasing of a border half a point off, nothing more
# (a line moved by one point changes ~0.3 % of a page, a paragraph reflowed several %).
PIXEL_TOLERANCE = 0.002
# Pixel rows allowed to differ where the columns moved: a glyph of a reflowed description.
ROW_TOLERANCE = 0.01
COLUMNS_MOVED = {"invoice-1-page", "invoice-wrapping-4-pages", "invoice-10-pages"}


def _references(name: str) -> list[Image.Image]:
    paths = sorted(look.REFERENCE_DIR.glob(f"{name}-[0-9][0-9].png"))
    assert paths, f"no reference image for {name}"
    return [Image.open(path).convert("L") for path in paths]


def _inked_rows(image: Image.Image) -> list[bool]:
    """For each pixel row, whether it holds anything darker than a pale border."""
    width, height = image.size
    data = image.point(lambda value: 255 if value < 200 else 0).tobytes()
    return [any(data[row * width : (row + 1) * width]) for row in range(height)]


@pytest.mark.parametrize(("name", "kind", "lines", "stamp_asked", "language"), look.SAMPLES)
def test_the_pages_look_as_before(
    name: str, kind: str, lines: int, stamp_asked: bool, language: str
) -> None:
    rendered = look.render(kind, lines, stamp_asked=stamp_asked, language=language)
    pages = look.page_images(rendered.pdf)
    references = _references(name)
    assert len(pages) == len(references)
    for number, (page, reference) in enumerate(zip(pages, references, strict=True), start=1):
        if name in COLUMNS_MOVED:
            rows = list(zip(_inked_rows(page), _inked_rows(reference), strict=True))
            moved = sum(1 for new, old in rows if new != old) / len(rows)
            assert moved <= ROW_TOLERANCE, f"{name} page {number}: {moved:.2%} of rows differ"
        else:
            share = look.difference(page, reference)
            assert share <= PIXEL_TOLERANCE, f"{name} page {number}: {share:.2%} of pixels differ"


@pytest.mark.parametrize(("name", "kind", "lines", "stamp_asked", "language"), look.SAMPLES)
def test_the_fields_stay_where_they_were(
    name: str, kind: str, lines: int, stamp_asked: bool, language: str
) -> None:
    rendered = look.render(kind, lines, stamp_asked=stamp_asked, language=language)
    expected = json.loads((look.REFERENCE_DIR / "fields.json").read_text())[name]
    assert [list(rectangle) for rectangle in look.fields_of(rendered)] == expected


def test_a_changed_layout_is_caught() -> None:
    """The comparison sees a change of one line's place (the test is not blind)."""
    rendered = look.render("invoice", 3)
    page = look.page_images(rendered.pdf)[0]
    moved = Image.new("L", page.size, 255)
    moved.paste(page.crop((0, 0, page.size[0], page.size[1] - 2)), (0, 2))
    assert look.difference(moved, page) > PIXEL_TOLERANCE
    rows = list(zip(_inked_rows(moved), _inked_rows(page), strict=True))
    assert sum(1 for new, old in rows if new != old) / len(rows) > ROW_TOLERANCE


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_seven_digit_total_stays_inside_the_table(language: str) -> None:
    """Fixed widths do not grow: 9 999 999,99 € must fit the totals' column, so nothing is
    drawn right of the table (the page's right margin stays blank)."""
    from documents.builtin import builtin_source
    from documents.rendering import render_pdf
    from signflow.money import format_money

    context = look.context(3, language=language)
    for line in context["lines"]:
        line["net"] = line["unit_price"] = format_money(Decimal("9999999.99"), "EUR", language)
    body, css = builtin_source("invoice")
    rendered = render_pdf(body=body, css=css, context=context, language=language)
    page = look.page_images(rendered.pdf, dpi=100)[0]
    margin = round(1.6 / 2.54 * 100) - 2  # the right margin, 1.6 cm, in pixels (less 2)
    strip = page.crop((page.size[0] - margin, 0, page.size[0], page.size[1]))
    assert strip.getextrema()[0] > 200, "ink in the right margin: a column overflowed"
