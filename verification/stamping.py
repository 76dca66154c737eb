"""The identification stripe printed on every page and the SignFlow marks in the PDF metadata.

The stripe sits along the bottom edge of each page *as displayed*: after /Rotate, inside the
visible box (the CropBox clipped to the MediaBox, as pdfium and viewers show it). Its text
matrix is therefore rotated and moved in the page's user space (`_stripe_matrix`), the same
mapping as documents.uploads.PageGeometry.to_user (kept here so that sealing does not depend on
the documents app).
"""

from __future__ import annotations

import io
import re
from typing import Any

STRIPE_FONT = "/SFStripe"
STRIPE_FONT_SIZE = 6.5
# Where the stripe's baseline starts, in points from the displayed page's bottom-left corner.
STRIPE_X, STRIPE_Y = 14.0, 7.0
INFO_CODE_KEY = "/SignFlowCode"
# The stripe reads "SignFlow <CODE> · ..." in every language: verification looks for it.
STRIPE_RE = re.compile(r"SignFlow\s+([A-Z0-9]{6,32})\b")


def _pdf_string(text: str) -> bytes:
    """A literal string in WinAnsiEncoding (Helvetica is one of the standard 14 fonts)."""
    raw = text.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped + b")"


def _box(box: Any) -> tuple[float, float, float, float]:
    values = [float(value) for value in box]
    return (
        min(values[0], values[2]),
        min(values[1], values[3]),
        max(values[0], values[2]),
        max(values[1], values[3]),
    )


def _stripe_matrix(page: Any) -> tuple[float, float, float, float, float, float]:
    """The text matrix that writes left to right along the visible bottom edge of `page`."""
    media = _box(page.mediabox)
    crop = _box(page.cropbox)
    left, bottom = max(media[0], crop[0]), max(media[1], crop[1])
    right, top = min(media[2], crop[2]), min(media[3], crop[3])
    if right <= left or top <= bottom:
        left, bottom, right, top = media
    try:
        value = page.get("/Rotate", 0)
        rotate = int(float(value.get_object() if hasattr(value, "get_object") else value))
    except (TypeError, ValueError):
        rotate = 0
    quarter = int(rotate / 90) % 4  # clockwise quarter turns, read as pdfium does
    x, y = STRIPE_X, STRIPE_Y
    if quarter == 1:
        return (0, 1, -1, 0, right - y, bottom + x)
    if quarter == 2:
        return (-1, 0, 0, -1, right - x, top - y)
    if quarter == 3:
        return (0, -1, 1, 0, left + y, top - x)
    return (1, 0, 0, 1, left + x, bottom + y)


def stamp_pages(
    *, pdf_bytes: bytes, stripe_text: str, code: str, title: str, certificate_pdf: bytes
) -> bytes:
    """Print the stripe on every page, append the certificate pages, mark the metadata."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes)))
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    text = _pdf_string(stripe_text)
    opening = DecodedStreamObject()
    opening.set_data(b"q\n")
    opening_ref = writer._add_object(opening)
    writer.append(PdfReader(io.BytesIO(certificate_pdf)))
    for page in writer.pages:
        matrix = " ".join(f"{value:.2f}" for value in _stripe_matrix(page))
        stripe = DecodedStreamObject()
        # Q closes whatever state the page's own content left active before we draw.
        stripe.set_data(
            b"\nQ\nq 0.45 g BT "
            + STRIPE_FONT.encode()
            + f" {STRIPE_FONT_SIZE} Tf {matrix} Tm ".encode()
            + text
            + b" Tj ET Q\n"
        )
        stripe_ref = writer._add_object(stripe)
        contents = page.get("/Contents")
        existing: list[Any] = []
        if contents is not None:
            resolved = contents.get_object()
            existing = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
        page[NameObject("/Contents")] = ArrayObject([opening_ref, *existing, stripe_ref])
        if page.get("/Resources") is None:
            page[NameObject("/Resources")] = DictionaryObject()
        resources: Any = page["/Resources"].get_object()
        if resources.get("/Font") is None:
            resources[NameObject("/Font")] = DictionaryObject()
        resources["/Font"].get_object()[NameObject(STRIPE_FONT)] = font
    writer.add_metadata(
        {
            INFO_CODE_KEY: TextStringObject(code),
            "/Title": TextStringObject(title),
            "/Producer": TextStringObject("SignFlow"),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
