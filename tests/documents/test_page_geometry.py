"""Page geometry is defined once (signflow.pdf) and every app reads pages through it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from signflow import pdf
from tests.documents.rotated_pdfs import CASE_IDS, CASES, Case, make_pdf
from verification.stamping import display_size, first_page_size

APP_DIRS = ["api", "bulk", "crm", "documents", "signflow", "signing", "verification", "webhooks"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_pdfium_pypdf_and_the_stripe_see_the_same_displayed_page(case: Case) -> None:
    data = make_pdf(case, pages=2)
    assert pdf.page_sizes(data) == [pytest.approx(case.display)] * 2
    assert pdf.page_size(data, 2) == pytest.approx(case.display)
    page = PdfReader(io.BytesIO(data)).pages[0]
    assert pdf.PageGeometry.of(page).size == pytest.approx(case.display)
    assert display_size(page) == pytest.approx(case.display)
    assert first_page_size(data) == pytest.approx(case.display)


def test_stored_page_sizes_open_a_file_once_per_hash() -> None:
    data = make_pdf(CASES[0], pages=3)
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return data

    key = "test-" + "0" * 59
    first = pdf.stored_page_sizes(key, read)
    again = pdf.stored_page_sizes(key, read)
    assert first == again == [pytest.approx(CASES[0].display)] * 3
    assert len(reads) == 1
    again.clear()  # a caller changing its list does not change the cache
    assert len(pdf.stored_page_sizes(key, read)) == 3


def test_only_signflow_pdf_reads_rotate_and_the_page_boxes() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for folder in APP_DIRS
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
        and any(
            needle in path.read_text(encoding="utf-8")
            for needle in ('"/Rotate"', ".cropbox", "get_page_size(")
        )
    ]
    # documents.uploads compares pdfium's sizes with PageGeometry's to refuse unsound files.
    assert sorted(readers) == ["documents/uploads.py", "signflow/pdf.py"]
