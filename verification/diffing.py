"""Compare an uploaded copy with the sealed original: pages rendered and diffed, words diffed.

Pages are rendered at 72 dpi, so one pixel is one PDF point and the changed regions come out
directly in points from the page's top-left corner.
"""

from __future__ import annotations

import base64
import difflib
import io
import re
from collections import deque
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from verification.models import SealedDocument
    from verification.services import VerificationResult

RENDER_SCALE = 1.0  # 72 dpi: pixels == points
IMAGE_SCALE = 1.5  # the side-by-side pictures are sharper than the comparison
PIXEL_THRESHOLD = 48  # grey-level difference that counts as a change (anti-aliasing is below)
CELL = 6  # changed pixels are grouped in cells of CELL x CELL points
MERGE_CELLS = 2  # regions closer than this many cells are one region
MAX_PAGES_COMPARED = 200
MAX_PAGES_PICTURED = 10
MAX_TEXT_CHANGES = 50

# A word, or an amount written with thousands separators and a currency: "10 000,00 €".
TOKEN_RE = re.compile(
    r"-?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?(?:[ \u00a0\u202f]?[€$£%])?"
    r"|\d+(?:[.,:/-]\d+)*(?:[ \u00a0\u202f]?[€$£%])?"
    r"|\S+"
)


def tokens(text: str) -> list[str]:
    return [re.sub(r"[\u00a0\u202f]", " ", t) for t in TOKEN_RE.findall(text)]


def word_changes(before: str, after: str) -> list[tuple[str, str]]:
    """(removed, added) word runs between two texts, in reading order."""
    old, new = tokens(before), tokens(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [
        (" ".join(old[i1:i2]), " ".join(new[j1:j2]))
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]


def changed_regions(
    before: PILImage.Image, after: PILImage.Image
) -> list[tuple[float, float, float, float]]:
    """Bounding boxes (x0, y0, x1, y1, top-left origin) of the areas that differ."""
    from PIL import Image, ImageChops, ImageFilter

    if before.size != after.size:
        width, height = after.size
        return [(0.0, 0.0, float(width), float(height))]
    diff = ImageChops.difference(before.convert("L"), after.convert("L"))
    mask = diff.point(lambda v: 255 if v > PIXEL_THRESHOLD else 0)
    if mask.getbbox() is None:
        return []
    width, height = mask.size
    cols, rows = -(-width // CELL), -(-height // CELL)
    # Max-pooling into cells keeps one changed pixel visible at the coarse scale.
    grid = mask.filter(ImageFilter.MaxFilter(3)).resize((cols, rows), Image.Resampling.BOX)
    hot = grid.point(lambda v: 255 if v > 0 else 0)
    merged = hot.filter(ImageFilter.MaxFilter(2 * MERGE_CELLS + 1))
    hot_px, merged_px = hot.load(), merged.load()
    assert hot_px is not None and merged_px is not None
    seen: set[tuple[int, int]] = set()
    regions: list[tuple[float, float, float, float]] = []
    for y in range(rows):
        for x in range(cols):
            if (x, y) in seen or not merged_px[x, y]:
                continue
            queue = deque([(x, y)])
            seen.add((x, y))
            xs: list[int] = []
            ys: list[int] = []
            while queue:
                cx, cy = queue.popleft()
                if hot_px[cx, cy]:
                    xs.append(cx)
                    ys.append(cy)
                for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                    inside = 0 <= nx < cols and 0 <= ny < rows
                    if inside and (nx, ny) not in seen and merged_px[nx, ny]:
                        seen.add((nx, ny))
                        queue.append((nx, ny))
            if xs:
                box = (min(xs) * CELL, min(ys) * CELL, (max(xs) + 1) * CELL, (max(ys) + 1) * CELL)
                # Tighten the cell-aligned box to the changed pixels inside it.
                tight = mask.crop(box).getbbox()
                if tight is not None:
                    box = (
                        box[0] + tight[0],
                        box[1] + tight[1],
                        box[0] + tight[2],
                        box[1] + tight[3],
                    )
                scale = 1 / RENDER_SCALE
                regions.append(
                    (
                        round(box[0] * scale, 1),
                        round(box[1] * scale, 1),
                        round(min(box[2], width) * scale, 1),
                        round(min(box[3], height) * scale, 1),
                    )
                )
    return regions


def _highlighted_png(page: Any, regions: list[tuple[float, float, float, float]]) -> str:
    from PIL import ImageDraw

    image = page.render(scale=IMAGE_SCALE).to_pil().convert("RGB")
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    pad = 3
    for x0, y0, x1, y1 in regions:
        box = (
            x0 * IMAGE_SCALE - pad,
            y0 * IMAGE_SCALE - pad,
            x1 * IMAGE_SCALE + pad,
            y1 * IMAGE_SCALE + pad,
        )
        draw.rectangle(box, fill=(255, 214, 0))
    from PIL import Image

    blended = Image.blend(image, overlay, 0.35)
    draw = ImageDraw.Draw(blended)
    for x0, y0, x1, y1 in regions:
        box = (
            x0 * IMAGE_SCALE - pad,
            y0 * IMAGE_SCALE - pad,
            x1 * IMAGE_SCALE + pad,
            y1 * IMAGE_SCALE + pad,
        )
        draw.rectangle(box, outline=(192, 38, 45), width=3)
    out = io.BytesIO()
    blended.save(out, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return str(textpage.get_text_range())
    finally:
        textpage.close()


def compare_with_original(
    *, result: VerificationResult, stream: IO[bytes], original: SealedDocument
) -> None:
    """Fill result.page_diffs / text_changes / reasons by comparing with the sealed file."""
    import pypdfium2 as pdfium

    from verification.services import PageDiff, TextChange

    with original.file.open("rb") as fh:
        original_bytes = fh.read()
    stream.seek(0)
    try:
        submitted = pdfium.PdfDocument(stream)
    except Exception:
        result.reasons.append("no_visible_change")
        return
    sealed_doc = pdfium.PdfDocument(original_bytes)
    try:
        result.original_page_count = len(sealed_doc)
        result.page_count = len(submitted)
        if len(sealed_doc) != len(submitted):
            result.reasons.append("page_count_differs")
        common = min(len(sealed_doc), len(submitted), MAX_PAGES_COMPARED)
        for index in range(common):
            before, after = sealed_doc[index], submitted[index]
            regions = changed_regions(
                before.render(scale=RENDER_SCALE).to_pil(),
                after.render(scale=RENDER_SCALE).to_pil(),
            )
            for removed, added in word_changes(_page_text(before), _page_text(after)):
                if len(result.text_changes) < MAX_TEXT_CHANGES:
                    result.text_changes.append(
                        TextChange(page=index + 1, removed=removed, added=added)
                    )
            if regions:
                diff = PageDiff(page=index + 1, regions=regions)
                if len(result.page_diffs) < MAX_PAGES_PICTURED:
                    diff.original_png = _highlighted_png(before, regions)
                    diff.submitted_png = _highlighted_png(after, regions)
                result.page_diffs.append(diff)
        if result.page_diffs or result.text_changes or "page_count_differs" in result.reasons:
            result.reasons.append("pages_differ")
        else:
            result.reasons.append("no_visible_change")
    finally:
        submitted.close()
        sealed_doc.close()
        stream.seek(0)
