"""The identification stripe printed on every page and the SignFlow marks in the PDF metadata."""

from __future__ import annotations

import io
import re
from typing import Any

STRIPE_FONT = "/SFStripe"
STRIPE_FONT_SIZE = 6.5
INFO_CODE_KEY = "/SignFlowCode"
# The stripe reads "SignFlow <CODE> · ..." in every language: verification looks for it.
STRIPE_RE = re.compile(r"SignFlow\s+([A-Z0-9]{6,32})\b")


def _pdf_string(text: str) -> bytes:
    """A literal string in WinAnsiEncoding (Helvetica is one of the standard 14 fonts)."""
    raw = text.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped + b")"


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
        box = page.mediabox
        x = float(box.left) + 14
        y = float(box.bottom) + 7
        stripe = DecodedStreamObject()
        # Q closes whatever state the page's own content left active before we draw.
        stripe.set_data(
            b"\nQ\nq 0.45 g BT "
            + STRIPE_FONT.encode()
            + f" {STRIPE_FONT_SIZE} Tf {x:.2f} {y:.2f} Td ".encode()
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
