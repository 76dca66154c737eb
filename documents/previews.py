"""Page images rendered with pypdfium2, cached on disk by the document's hash.

The cache lives under MEDIA_ROOT/previews/<sha256>/<page>-<size>.png. A document's PDF never
changes once stored (files are addressed by hash), so a cached image never goes stale and two
documents with the same content share their previews.
"""

import io
import os
import tempfile
from pathlib import Path

import pypdfium2 as pdfium
from django.conf import settings

from documents.models import Document

SIZES = {"thumb": 200, "page": 1000}


def read_pdf(document: Document) -> bytes:
    with document.pdf.open("rb") as handle:
        return handle.read()


def preview_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "previews"


def page_size(*, document: Document, page: int) -> tuple[float, float]:
    """Width and height of a page in PDF points, as pdfium shows it."""
    pdf = pdfium.PdfDocument(read_pdf(document))
    try:
        width, height = pdf[page - 1].get_size()
    finally:
        pdf.close()
    return float(width), float(height)


def render_page_png(pdf_bytes: bytes, *, page: int, width_px: int) -> bytes:
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        pdf_page = pdf[page - 1]
        width_pt, _height_pt = pdf_page.get_size()
        bitmap = pdf_page.render(scale=width_px / width_pt, draw_annots=True)
        image = bitmap.to_pil()
    finally:
        pdf.close()
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=3)
    return out.getvalue()


def page_image(*, document: Document, page: int, size: str = "page") -> bytes:
    """PNG of a page: "thumb" (~200 px wide) or "page" (~1000 px wide), cached on disk."""
    if size not in SIZES:
        raise ValueError(f"Unknown preview size {size!r}")
    if not 1 <= page <= document.page_count:
        raise ValueError(f"Page {page} is outside 1..{document.page_count}")
    path = preview_dir() / document.sha256 / f"{page}-{size}.png"
    if path.exists():
        return path.read_bytes()
    data = render_page_png(read_pdf(document), page=page, width_px=SIZES[size])
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file then rename: a concurrent reader never sees half an image.
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temp, path)
    return data
