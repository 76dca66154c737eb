"""The id stripe runs along the bottom edge of every page as displayed, turned or cropped."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import ImageChops

from tests.documents.rotated_pdfs import CASE_IDS, CASES, Case, make_pdf, render_displayed
from tests.verification import pdfs
from verification.services import _stripe_code, seal_pdf, verify_pdf

SCALE = 2.0
CODE = "R0T4T3D9PAGE"


def _sealed(case: Case, pages: int = 2) -> tuple[bytes, bytes]:
    original = make_pdf(case, pages=pages)
    sealed = seal_pdf(pdf_bytes=original, metadata=pdfs.metadata(code=CODE))
    with sealed.file.open("rb") as fh:
        return original, fh.read()


def _stripe_boxes(data: bytes, index: int, case: Case) -> list[tuple[float, float, float, float]]:
    """Display-space boxes (left, bottom, right, top) of the characters of "SignFlow <code>"."""
    pdf = pdfium.PdfDocument(data)
    try:
        textpage = pdf[index].get_textpage()
        text = textpage.get_text_range()
        start = text.find(f"SignFlow {CODE}")
        assert start >= 0, text
        boxes = []
        for i in range(start, start + len(f"SignFlow {CODE}")):
            left, bottom, right, top = textpage.get_charbox(i)  # user space
            if right <= left:
                continue
            x1, y1 = case.to_display(left, bottom)
            x2, y2 = case.to_display(right, top)
            boxes.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
        return boxes
    finally:
        pdf.close()


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_stripe_is_on_the_visible_bottom_edge_and_reads_left_to_right(case: Case) -> None:
    original, sealed = _sealed(case)
    width, height = case.display
    for index in range(2):
        boxes = _stripe_boxes(sealed, index, case)
        assert boxes
        # Inside the displayed page, within its bottom 20 points, starting at its left edge.
        assert min(box[0] for box in boxes) == pytest.approx(14, abs=2)
        assert max(box[2] for box in boxes) < width
        assert min(box[1] for box in boxes) >= 0
        assert max(box[3] for box in boxes) < 20
        # Left to right as displayed: each character starts after the previous one.
        starts = [box[0] for box in boxes]
        assert starts == sorted(starts)
        # And the pixels agree: only a wide, flat band at the bottom of the render changed.
        before = render_displayed(original, page=index + 1, scale=SCALE)
        after = render_displayed(sealed, page=index + 1, scale=SCALE)
        changed = (
            ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 40 else 0)
        )
        left, top, right, bottom = changed.getbbox()
        assert top >= (height - 20) * SCALE
        assert bottom <= height * SCALE
        assert right - left > 10 * (bottom - top)


@pytest.mark.django_db
def test_verification_finds_the_code_of_a_turned_page() -> None:
    _original, sealed = _sealed(CASES[0])
    result = verify_pdf(data=sealed, with_diff=False)
    assert result.verdict == "authentic", result
    # A modified copy is recognised by the code printed in its stripe.
    assert _stripe_code(io.BytesIO(sealed))[0] == CODE


@pytest.mark.django_db
@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils missing")
@pytest.mark.parametrize("case", [CASES[0], CASES[-1]], ids=[CASE_IDS[0], CASE_IDS[-1]])
def test_pdfsig_says_a_sealed_turned_document_is_valid(case: Case, tmp_path: Path) -> None:
    _original, sealed = _sealed(case)
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout
    pdfs.assert_pdfsig_lta(out)
