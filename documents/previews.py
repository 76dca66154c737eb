"""Page images rendered with pypdfium2, cached in the file storage by the document's hash.

The cache is the storage's previews/<sha256>/<page>-<size>.png (under MEDIA_ROOT or in the
bucket: a page rendered by one node is read by the others). A document's PDF never
changes once stored (files are addressed by hash), so a cached image never goes stale and two
documents with the same content share their previews.

Small files get each image rendered when the browser first asks for it. Files with more pages
than SIGNFLOW_PREVIEW_INLINE_PAGES (default 10) are rendered by a Celery task queued when the
document is saved (`previews_queue`); the editor polls its progress (Document.previews*).
"""

import io
import logging

import pypdfium2 as pdfium
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from documents.models import Document
from signflow import pdf as pdf_geometry
from signflow import pdfguard
from signflow.storage import save_once

logger = logging.getLogger(__name__)

# "large" serves high pixel-ratio screens and the signer's full-size view (rendered on demand).
SIZES = {"thumb": 200, "page": 1000, "large": 2000}


def read_pdf(document: Document) -> bytes:
    with document.pdf.open("rb") as handle:
        return handle.read()


# A PNG ends with its IEND chunk: a file read while another process is still writing it (the
# file system storage writes in place) lacks it, and is rendered again instead.
PNG_END = b"IEND\xaeB`\x82"


def preview_name(sha256: str, page: int, size: str) -> str:
    """The storage name of a page image."""
    return f"previews/{sha256}/{page}-{size}.png"


def _cached(name: str) -> bytes | None:
    try:
        with default_storage.open(name, "rb") as handle:
            data: bytes = handle.read()
    except FileNotFoundError:
        return None
    return data if data.endswith(PNG_END) else None


def page_size(*, document: Document, page: int) -> tuple[float, float]:
    """Width and height of a page in PDF points as displayed (signflow.pdf): the space of the
    Field rectangles (after /Rotate, visible box; documents.models)."""
    return pdf_geometry.page_size(read_pdf(document), page)


# Rendering decodes the page's content and images: in a bounded child process, so that a page
# built to need gigabytes fails alone (signflow.pdfguard.PdfGuardError), not the web worker.
@pdfguard.guarded
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
    """PNG of a page: "thumb" (~200 px wide), "page" (~1000) or "large" (~2000), cached in
    the storage. A storage error is raised (an OSError), not hidden behind a render."""
    if size not in SIZES:
        raise ValueError(f"Unknown preview size {size!r}")
    if not 1 <= page <= document.page_count:
        raise ValueError(f"Page {page} is outside 1..{document.page_count}")
    name = preview_name(document.sha256, page, size)
    cached = _cached(name)
    if cached is not None:
        return cached
    data = render_page_png(read_pdf(document), page=page, width_px=SIZES[size])
    save_once(name, data)
    return data


def inline_page_limit() -> int:
    return settings.SIGNFLOW_PREVIEW_INLINE_PAGES


def needs_preview_task(page_count: int) -> bool:
    return page_count > inline_page_limit()


def _send_task(document_id: int) -> None:
    from documents.tasks import render_previews

    try:
        render_previews.delay(document_id)
    except Exception:
        # Broker unreachable: fall back to rendering each page when it is asked for, rather
        # than leaving the editor waiting for a task that was never queued.
        logger.exception("Could not queue the previews of document %s", document_id)
        Document.objects.filter(pk=document_id, previews=Document.Previews.QUEUED).update(
            previews=Document.Previews.ON_DEMAND
        )


def previews_queue(*, document: Document) -> None:
    """Mark the document's previews as queued and send the task once the row is committed."""
    Document.objects.filter(pk=document.pk).update(
        previews=Document.Previews.QUEUED, previews_done=0, previews_error=""
    )
    document.previews, document.previews_done, document.previews_error = (
        Document.Previews.QUEUED,
        0,
        "",
    )
    document_id = document.pk
    transaction.on_commit(lambda: _send_task(document_id))


def previews_render(*, document_id: int) -> str:
    """Render every page at both sizes, recording progress; the task's whole job.

    Returns the final status. A failure is recorded on the document (shown in the editor,
    which then falls back to rendering pages on demand); it is not raised.
    """
    # Claim: a second delivery of the same task (acks_late after a worker crash) may render
    # again, which is harmless (atomic file writes); a finished document is left alone.
    claimed = Document.objects.filter(
        pk=document_id, previews__in=[Document.Previews.QUEUED, Document.Previews.RENDERING]
    ).update(previews=Document.Previews.RENDERING)
    if not claimed:
        return "skipped"
    document = Document.objects.get(pk=document_id)
    page = 1
    try:
        for page in range(1, document.page_count + 1):
            page_image(document=document, page=page, size="page")
            page_image(document=document, page=page, size="thumb")
            Document.objects.filter(pk=document_id).update(previews_done=page)
    except Exception as exc:
        logger.exception("Rendering the previews of document %s failed", document_id)
        Document.objects.filter(pk=document_id).update(
            previews=Document.Previews.FAILED,
            # The technical detail only: the editor words it in the reader's language.
            previews_error=(str(exc) or type(exc).__name__)[:300],
        )
        return Document.Previews.FAILED
    Document.objects.filter(pk=document_id).update(previews=Document.Previews.READY)
    return Document.Previews.READY
