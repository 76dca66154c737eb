"""Where a document's pages already have something printed: text runs and images, from pdfium.

The field editor warns when a field covers them, and the default fields of an upload are put
where the last page is empty. Boxes are in *display space* (documents.models, "Coordinates
convention"): pdfium gives them in the page's user space, and they are turned with the same
PageGeometry as the drawing code (after /Rotate, from the visible box's corner).

Bounded: the file is read in pdfguard's child process (CPU time and memory capped), at most
MAX_PAGES pages are looked at, and a page keeps at most MAX_TEXT_BOXES text boxes (neighbouring
runs merged beyond that) and MAX_IMAGE_BOXES images. Results are cached by the file's hash.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.core.cache import cache

from documents.errors import DocumentError
from signflow import pdfguard
from signflow.pdf import PageGeometry

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x, y, width, height in display space
MAX_PAGES = 60
MAX_TEXT_BOXES = 300
MAX_IMAGE_BOXES = 60
CACHE_SECONDS = 24 * 3600
_CACHE_VERSION = 1


def _merge_runs(rects: list[tuple[float, float, float, float]], limit: int) -> list:
    """At most `limit` rectangles: consecutive runs (reading order, so neighbours) united."""
    if len(rects) <= limit:
        return rects
    size = math.ceil(len(rects) / limit)
    merged = []
    for start in range(0, len(rects), size):
        chunk = rects[start : start + size]
        merged.append(
            (
                min(r[0] for r in chunk),
                min(r[1] for r in chunk),
                max(r[2] for r in chunk),
                max(r[3] for r in chunk),
            )
        )
    return merged


def _geometry(page: pdfium.PdfPage) -> PageGeometry:
    media = page.get_mediabox()
    crop = page.get_cropbox()
    left, bottom = max(media[0], crop[0]), max(media[1], crop[1])
    right, top = min(media[2], crop[2]), min(media[3], crop[3])
    if right <= left or top <= bottom:
        left, bottom, right, top = media
    return PageGeometry(left, bottom, right, top, page.get_rotation() % 360)


def _display_boxes(geometry: PageGeometry, rects: Iterable) -> list[Box]:
    boxes = []
    for rect in rects:
        left, bottom, right, top = geometry.rect_to_display(*rect)
        # Clipped to the visible page; nothing left of a box outside it.
        left, bottom = max(0.0, left), max(0.0, bottom)
        right, top = min(geometry.width, right), min(geometry.height, top)
        if right - left > 0.5 and top - bottom > 0.5:
            boxes.append(
                (round(left, 1), round(bottom, 1), round(right - left, 1), round(top - bottom, 1))
            )
    return boxes


@pdfguard.guarded(error=DocumentError)
def _read_boxes(data: bytes, pages: list[int]) -> dict[int, dict[str, list[Box]]]:
    found: dict[int, dict[str, list[Box]]] = {}
    pdf = pdfium.PdfDocument(data)
    try:
        for number in pages:
            page = pdf[number - 1]
            geometry = _geometry(page)
            textpage = page.get_textpage()
            count = textpage.count_rects()
            text = [textpage.get_rect(i) for i in range(count)]
            text = [r for r in text if r[2] > r[0] and r[3] > r[1]]
            images = []
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
                images.append(obj.get_bounds())
                if len(images) >= MAX_IMAGE_BOXES:
                    break
            found[number] = {
                "text": _display_boxes(geometry, _merge_runs(text, MAX_TEXT_BOXES)),
                "image": _display_boxes(geometry, images),
            }
    finally:
        pdf.close()
    return found


def content_boxes(
    data: bytes, *, sha256: str, page_count: int, pages: Iterable[int] | None = None
) -> dict[int, list[Box]]:
    """{page: [(x, y, width, height), ...]} of the text and images on those pages (default:
    the first MAX_PAGES and the last), in display space. {} when the file cannot be read
    within the limits: a missing warning is better than a broken editor."""
    wanted = sorted(
        {p for p in (pages or range(1, min(page_count, MAX_PAGES) + 1)) if 1 <= p <= page_count}
        | ({page_count} if pages is None and page_count else set())
    )[: MAX_PAGES + 1]
    key = f"content-boxes:{_CACHE_VERSION}:{sha256}:{','.join(map(str, wanted))}"
    cached = cache.get(key)
    if cached is not None:
        return {int(page): [tuple(box) for box in boxes] for page, boxes in cached.items()}
    try:
        found = _read_boxes(data, wanted)
    except (DocumentError, pdfium.PdfiumError, pdfguard.PdfGuardError, ValueError, OSError):
        logger.warning("Content boxes of %s could not be read", sha256, exc_info=True)
        return {}
    result = {page: kinds["text"] + kinds["image"] for page, kinds in found.items()}
    cache.set(key, {str(page): boxes for page, boxes in result.items()}, CACHE_SECONDS)
    return result


def overlaps(rect: Box, boxes: Iterable[Box], *, margin: float = 1.0) -> bool:
    """Whether a field's rectangle covers any content box by more than `margin` points."""
    x, y, width, height = rect
    for bx, by, bw, bh in boxes:
        if (
            min(x + width, bx + bw) - max(x, bx) > margin
            and min(y + height, by + bh) - max(y, by) > margin
        ):
            return True
    return False


def free_band_bottom(
    boxes: Iterable[Box],
    *,
    left: float,
    right: float,
    page_height: float,
    height: float,
    start: float,
    step: float = 4.0,
) -> float | None:
    """The lowest y, from `start` up, of an empty band `height` points high between `left` and
    `right` (empty: no text or image in it), or None when the page has no such band."""
    content = list(boxes)
    y = start
    while y + height <= page_height:
        if not overlaps((left, y, right - left, height), content, margin=0.0):
            return y
        y += step
    return None
