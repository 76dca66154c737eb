"""Page geometry: where a PDF page's visible area is and how it is turned for display.

One definition for every app: documents (uploads, previews, editor, flattening), signing (the
signer's pages) and verification (the identification stripe) import it from here, so the
rectangle a sender draws, the page a signer sees and the place a value is flattened or the
stripe printed are the same page.

Field rectangles (documents.models) are in *display space*: points, origin at the lower-left
corner of the page as viewers, pdfium and the previews show it, i.e. after /Rotate and relative
to the visible box (the CropBox clipped to the MediaBox, as pdfium does).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
from pypdf import Transformation

Size = tuple[float, float]


def _rectangle(box: Any) -> tuple[float, float, float, float]:
    values = [float(value) for value in box]
    return (
        min(values[0], values[2]),
        min(values[1], values[3]),
        max(values[0], values[2]),
        max(values[1], values[3]),
    )


def _quarter_turns(page: Any) -> int:
    """Clockwise quarter turns of /Rotate as pdfium reads it: whole quarters (truncated),
    negative ones counted back, anything unreadable as none."""
    try:
        value = page.get("/Rotate", 0)
        rotate = int(float(value.get_object() if hasattr(value, "get_object") else value))
    except (TypeError, ValueError):
        rotate = 0
    return int(rotate / 90) % 4


@dataclass(frozen=True)
class PageGeometry:
    """A page's visible box in its user space and its clockwise rotation for display.

    `to_user` maps display space to the page's user space, where drawing happens.
    """

    left: float
    bottom: float
    right: float
    top: float
    rotation: int  # clockwise, one of 0, 90, 180, 270

    @classmethod
    def of(cls, page: Any) -> PageGeometry:
        """The geometry of a pypdf page (inherited attributes are already on the page)."""
        media = _rectangle(page.mediabox)
        crop = _rectangle(page.cropbox)  # pypdf falls back to the MediaBox
        left, bottom = max(media[0], crop[0]), max(media[1], crop[1])
        right, top = min(media[2], crop[2]), min(media[3], crop[3])
        if right <= left or top <= bottom:
            # No overlap: pdfium shows an empty page, and check_pdf refuses the file because the
            # sizes disagree; drawing code on an already stored file uses the MediaBox.
            left, bottom, right, top = media
        return cls(left, bottom, right, top, 90 * _quarter_turns(page))

    @property
    def width(self) -> float:
        """Width of the page as displayed."""
        if self.rotation in (90, 270):
            return self.top - self.bottom
        return self.right - self.left

    @property
    def height(self) -> float:
        """Height of the page as displayed."""
        if self.rotation in (90, 270):
            return self.right - self.left
        return self.top - self.bottom

    @property
    def size(self) -> Size:
        return self.width, self.height

    def to_user(self) -> Transformation:
        """Display space -> user space, for merging an overlay drawn in display space."""
        box_w, box_h = self.right - self.left, self.top - self.bottom
        left, bottom = self.left, self.bottom
        matrices = {
            0: (1, 0, 0, 1, left, bottom),
            90: (0, 1, -1, 0, left + box_w, bottom),
            180: (-1, 0, 0, -1, left + box_w, bottom + box_h),
            270: (0, -1, 1, 0, left, bottom + box_h),
        }
        return Transformation(ctm=matrices[self.rotation])

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        """A point of the page's user space in display space."""
        p, q = x - self.left, y - self.bottom
        box_w, box_h = self.right - self.left, self.top - self.bottom
        if self.rotation == 90:
            return q, box_w - p
        if self.rotation == 180:
            return box_w - p, box_h - q
        if self.rotation == 270:
            return box_h - q, p
        return p, q

    def rect_to_display(
        self, left: float, bottom: float, right: float, top: float
    ) -> tuple[float, float, float, float]:
        """A user-space rectangle as (left, bottom, right, top) in display space."""
        x1, y1 = self.to_display(left, bottom)
        x2, y2 = self.to_display(right, top)
        return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def page_sizes(data: bytes) -> list[Size]:
    """(width, height) in points of every page of a PDF as displayed (pdfium's view, the same
    as PageGeometry's: documents.uploads.check_pdf refuses a file where they differ)."""
    pdf = pdfium.PdfDocument(data)
    try:
        # get_page_size reads the page dictionary; loading the page would parse its content.
        return [_size(pdf.get_page_size(index)) for index in range(len(pdf))]
    finally:
        pdf.close()


def page_size(data: bytes, page: int) -> Size:
    """(width, height) of page `page` (1-based) as displayed."""
    pdf = pdfium.PdfDocument(data)
    try:
        return _size(pdf.get_page_size(page - 1))
    finally:
        pdf.close()


def _size(size: tuple[float, float]) -> Size:
    return float(size[0]), float(size[1])


_SIZES_BY_HASH: OrderedDict[str, list[Size]] = OrderedDict()
_SIZES_LOCK = threading.Lock()
SIZES_CACHE_ENTRIES = 256


def stored_page_sizes(sha256: str, read: Callable[[], bytes]) -> list[Size]:
    """`page_sizes` of a stored file, remembered by its SHA-256: a stored PDF never changes
    (files are addressed by hash), so pages shown again do not reopen the file."""
    with _SIZES_LOCK:
        if sha256 in _SIZES_BY_HASH:
            _SIZES_BY_HASH.move_to_end(sha256)
            return list(_SIZES_BY_HASH[sha256])
    sizes = page_sizes(read())
    with _SIZES_LOCK:
        _SIZES_BY_HASH[sha256] = sizes
        while len(_SIZES_BY_HASH) > SIZES_CACHE_ENTRIES:
            _SIZES_BY_HASH.popitem(last=False)
    return list(sizes)


# --- pikepdf pages -----------------------------------------------------------------------------
# Sealing edits documents with pikepdf (qpdf): it reads objects from the file as they are needed
# and copies unchanged stream data straight from the input when it writes, so a 20 MB scan is
# never held in memory whole. PageGeometry reads `mediabox`, `cropbox` and `get("/Rotate")` as
# pypdf pages offer them (inherited from the page tree, the CropBox falling back to the
# MediaBox): `PikePage` offers the same on a pikepdf page.

# Attributes a page inherits from its ancestors in the page tree (ISO 32000-1, 7.7.3.4).
INHERITABLE = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
MAX_TREE_DEPTH = 64  # a loop in /Parent links must not hang the sealing worker


def inherited(obj: Any, key: str) -> Any:
    """`key` of the page dictionary `obj`, or of its nearest ancestor that has it."""
    node = obj
    for _depth in range(MAX_TREE_DEPTH):
        if node is None:
            return None
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


class PikePage:
    """pypdf's page attributes read by the geometry code, on a pikepdf page."""

    def __init__(self, page: Any) -> None:
        self.obj = page.obj if hasattr(page, "obj") else page

    @property
    def mediabox(self) -> Any:
        box = inherited(self.obj, "/MediaBox")
        return box if box is not None else [0, 0, 612, 792]  # the PDF default (Letter)

    @property
    def cropbox(self) -> Any:
        box = inherited(self.obj, "/CropBox")
        return box if box is not None else self.mediabox

    def get(self, key: str, default: Any = None) -> Any:
        value = inherited(self.obj, key)
        return default if value is None else value


def own_resources(page: Any) -> Any:
    """The page's /Resources as a dictionary of its own (an inherited one is copied down), so
    that what is added to it does not reach the other pages."""
    import pikepdf

    obj = page.obj if hasattr(page, "obj") else page
    if "/Resources" in obj:
        return obj.Resources
    found = inherited(obj, "/Resources")
    resources = (
        pikepdf.Dictionary(dict(found.items())) if found is not None else pikepdf.Dictionary()
    )
    obj.Resources = resources
    return obj.Resources
