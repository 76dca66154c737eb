"""verify_pdf: authentic, modified (with what changed) and unknown."""

from __future__ import annotations

import io

from tests.verification import pdfs
from verification.models import SealedDocument
from verification.services import verify_pdf

AMOUNT = "Total TTC : 10 000,00 €".encode("cp1252")
TAMPERED = "Total TTC : 1 000,00 €".encode("cp1252")


def change_amount(sealed_bytes: bytes) -> bytes:
    """Edit the amount in the uncompressed content stream, keeping every offset in place."""
    assert sealed_bytes.count(b"(" + AMOUNT + b")") == 1
    return sealed_bytes.replace(b"(" + AMOUNT + b")", b"(" + TAMPERED + b") ")


def test_it_says_authentic_for_the_sealed_file(sealed: SealedDocument, sealed_bytes: bytes) -> None:
    result = verify_pdf(data=sealed_bytes)
    assert result.verdict == "authentic"
    assert result.sealed == sealed
    assert result.code == "K7M2P9XQ4TAB"
    assert result.seal is not None and result.seal.all_ok


def test_it_reads_a_file_object_in_chunks(sealed: SealedDocument, sealed_bytes: bytes) -> None:
    result = verify_pdf(data=io.BytesIO(sealed_bytes))
    assert result.verdict == "authentic"


def test_it_says_unknown_for_an_unrelated_pdf(db: None) -> None:
    result = verify_pdf(data=pdfs.weasyprint_pdf())
    assert result.verdict == "unknown"
    assert result.sealed is None
    assert result.error == ""


def test_it_says_unknown_with_an_error_for_a_file_that_is_not_a_pdf(db: None) -> None:
    result = verify_pdf(data=b"PK\x03\x04 this is a zip")
    assert result.verdict == "unknown"
    assert result.error == "not_pdf"


def test_it_says_modified_when_a_byte_is_flipped(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    # A byte inside the page's text, covered by the signature's byte range.
    position = sealed_bytes.index(AMOUNT) + len("Total TTC : 1")
    result = verify_pdf(data=pdfs.flip_byte(sealed_bytes, position))
    assert result.verdict == "modified"
    assert "bytes_changed" in result.reasons
    assert result.sealed == sealed


def test_it_says_modified_and_names_the_changed_amount(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    result = verify_pdf(data=change_amount(sealed_bytes))
    assert result.verdict == "modified"
    assert result.sealed == sealed
    assert "bytes_changed" in result.reasons
    changes = [(c.page, c.removed, c.added) for c in result.text_changes]
    assert (1, "10 000,00 €", "1 000,00 €") in changes
    assert [d.page for d in result.page_diffs] == [1]
    # The amount is drawn at x=72pt, baseline y=600pt from the bottom of an 842pt page,
    # i.e. about 242pt from the top: the highlighted region must cover it and little else.
    regions = result.page_diffs[0].regions
    assert len(regions) == 1
    x0, y0, x1, y1 = regions[0]
    assert 60 <= x0 <= 200 and x1 <= 300
    assert 215 <= y0 <= 245 and 235 <= y1 <= 265
    # Anyone holding a file sees the changed region cut out, never the whole page.
    assert result.page_diffs[0].original_png == ""
    [crop] = result.page_diffs[0].crops
    assert crop.original_png.startswith("data:image/png;base64,")


def test_it_says_modified_when_content_is_appended_after_the_seal(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    result = verify_pdf(data=pdfs.append_incremental_update(sealed_bytes))
    assert result.verdict == "modified"
    assert result.appended
    assert result.seal is not None and result.seal.intact
    assert result.sealed == sealed


def test_it_says_modified_when_the_file_was_resaved_by_another_tool(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    result = verify_pdf(data=pdfs.resave_with_pypdf(sealed_bytes))
    assert result.verdict == "modified"
    assert result.sealed == sealed
    assert result.page_diffs == []
    assert "no_visible_change" in result.reasons


def test_it_says_modified_for_a_copy_printed_from_the_stripe_alone(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    # Re-rendering the pages (e.g. "print to PDF") drops the seal and the metadata; the stripe
    # still names the document.
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(sealed_bytes)).pages:
        writer.add_page(page)
    writer.metadata = None
    out = io.BytesIO()
    writer.write(out)
    result = verify_pdf(data=out.getvalue())
    assert result.verdict == "modified"
    assert result.code == "K7M2P9XQ4TAB"
    assert "signature_missing" in result.reasons
