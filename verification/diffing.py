"""Compare an uploaded copy with the sealed original, and decide what an answer may show of it.

Pages are rendered at 72 dpi, so one pixel is one PDF point and the changed regions come out
directly in points from the page's top-left corner.

Disclosure rule (an answer never shows text or pictures of the sealed original beyond what the
upload already shows, except where they differ):

- A page of the upload *matches* a page of the original when both hold:
  words: at least 80% of the words are in place, i.e. the words the two pages share in the
  same order (difflib.SequenceMatcher over word tokens) are at least 80% of the longer page's
  words; the SignFlow stripe ("SignFlow <code> · ...") is left out on both sides, since every
  page carries it and copying it proves nothing;
  ink: at least 80% of the ink (pixels dark on either page) is the same on both pages, so a
  page whose text was copied over a blank or blacked-out background does not match; the
  stripe's text objects are taken off both pages before they are rendered, so a copied
  stripe does not count as ink in place either (a page holding only a signature and the
  stripe is not matched by a blank page with the stripe).
- Matching page: its changed words (old -> new) and, side by side, the original and the
  upload cut to each changed region, never the whole page.
- Uploaded page that matches no page: its number only. Original pages that no uploaded page
  matches: their numbers only, and only when at least one page matched.
- No page matches: "this is not the sealed document <code>" and nothing else
  (reason `not_the_sealed_document`), whatever the file carries (a code, a stripe, a QR).

The full comparison (every page in order, pictured whole, every text change) is for those
entitled to the original, decided by the caller: the sender's employees and the signers.
"""

from __future__ import annotations

import base64
import difflib
import io
import re
from collections import deque
from typing import IO, TYPE_CHECKING, Any

from signflow import pdfguard

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from verification.models import SealedDocument
    from verification.services import (
        AddedAnnotation,
        Comparison,
        RegionCrop,
        VerificationResult,
    )

Region = tuple[float, float, float, float]

RENDER_SCALE = 1.0  # 72 dpi: pixels == points
IMAGE_SCALE = 1.5  # the side-by-side pictures are sharper than the comparison
CROP_SCALE = 2.0  # crops of changed regions are small: sharper still
CROP_PAD = 6  # points of context around a changed region in its crop
PIXEL_THRESHOLD = 48  # grey-level difference that counts as a change (anti-aliasing is below)
CELL = 6  # changed pixels are grouped in cells of CELL x CELL points
MERGE_CELLS = 2  # regions closer than this many cells are one region
MAX_PAGES_COMPARED = 200
MAX_PAGES_PICTURED = 10
MAX_TEXT_CHANGES = 50
MATCH_SHARE = 0.8  # words and ink in place for an uploaded page to be a page of the original
MAX_CANDIDATES = 3  # original pages tested against each uploaded page
MAX_CROPS_PER_PAGE = 20
MAX_CROP_SHARE = 0.25  # a changed region larger than this share of the page is not pictured
# The stripe line, in any language: removed before words are compared.
STRIPE_LINE_RE = re.compile(r"SignFlow\s+[A-Z0-9]{6,32}\b[^\r\n]*")

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
            cells = _hot_cells_of_area((x, y), hot_px, merged_px, (cols, rows), seen)
            if cells:
                regions.append(_region(cells, mask))
    return regions


def _hot_cells_of_area(
    start: tuple[int, int],
    hot_px: Any,
    merged_px: Any,
    size: tuple[int, int],
    seen: set[tuple[int, int]],
) -> list[tuple[int, int]]:
    """The changed cells of the merged area around `start` (breadth-first walk; marks what it
    visits in `seen`)."""
    cols, rows = size
    queue = deque([start])
    seen.add(start)
    cells = []
    while queue:
        cx, cy = queue.popleft()
        if hot_px[cx, cy]:
            cells.append((cx, cy))
        for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
            inside = 0 <= nx < cols and 0 <= ny < rows
            if inside and (nx, ny) not in seen and merged_px[nx, ny]:
                seen.add((nx, ny))
                queue.append((nx, ny))
    return cells


def _region(
    cells: list[tuple[int, int]], mask: PILImage.Image
) -> tuple[float, float, float, float]:
    """The cells' bounding box tightened to the changed pixels inside it, in page points."""
    xs = [x for x, _y in cells]
    ys = [y for _x, y in cells]
    box = (min(xs) * CELL, min(ys) * CELL, (max(xs) + 1) * CELL, (max(ys) + 1) * CELL)
    tight = mask.crop(box).getbbox()
    if tight is not None:
        box = (box[0] + tight[0], box[1] + tight[1], box[0] + tight[2], box[1] + tight[3])
    width, height = mask.size
    scale = 1 / RENDER_SCALE
    return (
        round(box[0] * scale, 1),
        round(box[1] * scale, 1),
        round(min(box[2], width) * scale, 1),
        round(min(box[3], height) * scale, 1),
    )


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return str(textpage.get_text_range())
    finally:
        textpage.close()


def own_text(text: str) -> str:
    """The page's text without the SignFlow stripe, which every sealed page carries."""
    return STRIPE_LINE_RE.sub(" ", text)


def word_score(original: list[str], upload: list[str]) -> float:
    """Share of words in place: the in-order common words over the longer page's word count."""
    longest = max(len(original), len(upload))
    if longest == 0:
        return 1.0
    matcher = difflib.SequenceMatcher(None, original, upload, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / longest


def ink_score(before: PILImage.Image, after: PILImage.Image) -> float:
    """Share of the ink (pixels dark on either page) that is the same on both pages."""
    from PIL import ImageChops

    if before.size != after.size:
        return 0.0
    old, new = before.convert("L"), after.convert("L")
    ink = ImageChops.darker(old, new).point(lambda v: 255 if v < 255 - PIXEL_THRESHOLD else 0)
    total = ink.histogram()[255]
    if total == 0:
        return 1.0
    changed = ImageChops.difference(old, new).point(lambda v: 255 if v > PIXEL_THRESHOLD else 0)
    return ImageChops.subtract(ink, changed).histogram()[255] / total


def _remove_stripe(page: Any) -> None:
    """Take the SignFlow stripe's text objects off `page` (in memory), so that its ink, like
    its words, counts for nothing: a copied stripe is no evidence of holding the page."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    stripes = []
    try:
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_TEXT,), max_depth=0):
            size = pdfium_c.FPDFTextObj_GetText(obj.raw, textpage.raw, None, 0)
            buffer = ctypes.create_string_buffer(size)
            pointer = ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR))
            pdfium_c.FPDFTextObj_GetText(obj.raw, textpage.raw, pointer, size)
            text = buffer.raw[: max(size - 2, 0)].decode("utf-16-le", errors="ignore")
            if STRIPE_LINE_RE.search(text):
                stripes.append(obj)
    finally:
        textpage.close()
    for obj in stripes:
        page.remove_obj(obj)


class _Page:
    """One page of either file: its text read once, its picture rendered when first needed.

    With `without_stripe`, the stripe is taken off before anything is rendered (restricted
    comparisons: matching, changed regions and crops all ignore it).
    """

    def __init__(self, page: Any, *, without_stripe: bool = False) -> None:
        self.page = page
        self.text = _page_text(page)
        self.own = tokens(own_text(self.text))
        self.words = set(self.own)
        self._image: PILImage.Image | None = None
        self._shown: PILImage.Image | None = None
        if without_stripe:
            _remove_stripe(page)

    @property
    def image(self) -> PILImage.Image:
        """The page's own content, without annotations or form fields: what pages match on.

        An annotation added on top of a page (a "PAID" note, a second signature's stamp) does
        not make it another page; it shows in `shown`, where the changes are looked for.
        """
        if self._image is None:
            rendered = self.page.render(scale=RENDER_SCALE, may_draw_forms=False, draw_annots=False)
            self._image = rendered.to_pil().convert("L")
        return self._image

    @property
    def shown(self) -> PILImage.Image:
        """The page as a reader sees it: annotations and form fields (signature stamps) drawn."""
        if self._shown is None:
            self._shown = self.page.render(scale=RENDER_SCALE).to_pil().convert("L")
        return self._shown

    def picture(self, regions: list[Region], scale: float) -> PILImage.Image:
        return _highlighted(self.page, regions, scale)


def _candidates(index: int, page: _Page, originals: list[_Page], taken: set[int]) -> list[int]:
    """Original pages worth the full test for this uploaded page: the same position first,
    then the pages sharing the most words (a page moved, or pages removed before it)."""
    first = [index] if index < len(originals) and index not in taken else []

    def overlap(j: int) -> float:
        union = page.words | originals[j].words
        return len(page.words & originals[j].words) / len(union) if union else 1.0

    others = [j for j in range(len(originals)) if j not in taken and j != index]
    others = [j for j in others if overlap(j) > 0]
    others.sort(key=overlap, reverse=True)
    return first + others[: MAX_CANDIDATES - len(first)]


def page_matches(original: _Page, upload: _Page) -> bool:
    """The disclosure rule: the upload clearly is this page (see the module docstring)."""
    if word_score(original.own, upload.own) < MATCH_SHARE:
        return False
    return ink_score(original.image, upload.image) >= MATCH_SHARE


def match_pages(originals: list[_Page], uploads: list[_Page]) -> dict[int, int]:
    """Upload page index -> original page index, for the uploaded pages that match one."""
    matches: dict[int, int] = {}
    taken: set[int] = set()
    for index, page in enumerate(uploads):
        for candidate in _candidates(index, page, originals, taken):
            if page_matches(originals[candidate], page):
                matches[index] = candidate
                taken.add(candidate)
                break
    return matches


def _highlighted(page: Any, regions: list[Region], scale: float) -> PILImage.Image:
    from PIL import Image, ImageDraw

    image = page.render(scale=scale).to_pil().convert("RGB")
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    pad = 3
    boxes = [
        (x0 * scale - pad, y0 * scale - pad, x1 * scale + pad, y1 * scale + pad)
        for x0, y0, x1, y1 in regions
    ]
    for box in boxes:
        draw.rectangle(box, fill=(255, 214, 0))
    blended = Image.blend(image, overlay, 0.35)
    draw = ImageDraw.Draw(blended)
    for box in boxes:
        draw.rectangle(box, outline=(192, 38, 45), width=3)
    return blended


def _png(image: PILImage.Image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _crop_box(
    region: Region, page_size: tuple[int, int], scale: float
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = region
    width, height = page_size
    return (
        max(0, int((x0 - CROP_PAD) * scale)),
        max(0, int((y0 - CROP_PAD) * scale)),
        min(width, int((x1 + CROP_PAD) * scale + 1)),
        min(height, int((y1 + CROP_PAD) * scale + 1)),
    )


def region_crops(before: _Page, after: _Page, regions: list[Region]) -> list[RegionCrop]:
    """The original and the upload cut to each changed region, never more of the page.

    A region larger than MAX_CROP_SHARE of the page is named but not pictured: its picture
    would show the original's surroundings rather than the change.
    """
    from verification.services import RegionCrop

    pictured = [
        region
        for region in regions
        if (region[2] - region[0]) * (region[3] - region[1])
        <= MAX_CROP_SHARE * before.shown.size[0] * before.shown.size[1]
    ][:MAX_CROPS_PER_PAGE]
    if not pictured:
        return []
    old = before.picture(pictured, CROP_SCALE)
    new = after.picture(pictured, CROP_SCALE)
    crops = []
    for region in pictured:
        crops.append(
            RegionCrop(
                region=region,
                original_png=_png(old.crop(_crop_box(region, old.size, CROP_SCALE))),
                submitted_png=_png(new.crop(_crop_box(region, new.size, CROP_SCALE))),
            )
        )
    return crops


@pdfguard.guarded  # renders and text of a stranger's file: in a bounded child process
def compare_pdfs(*, original: bytes, submitted: IO[bytes], full: bool) -> Comparison | None:
    """What differs between the sealed original and an upload, and what may be shown of it.

    Plain data in, plain data out (no database), so that it can run in a bounded worker.
    None when the upload cannot be opened.
    """
    import pypdfium2 as pdfium

    from verification.services import Comparison

    submitted.seek(0)
    try:
        upload_doc = pdfium.PdfDocument(submitted)
    except Exception:
        return None
    sealed_doc = pdfium.PdfDocument(original)
    # Form fields (a signature's visible stamp) are drawn only once forms are initialised.
    upload_doc.init_forms()
    sealed_doc.init_forms()
    try:
        comparison = Comparison(
            full=full, original_page_count=len(sealed_doc), page_count=len(upload_doc)
        )
        strip = not full
        originals = [
            _Page(sealed_doc[i], without_stripe=strip)
            for i in range(min(len(sealed_doc), MAX_PAGES_COMPARED))
        ]
        uploads = [
            _Page(upload_doc[i], without_stripe=strip)
            for i in range(min(len(upload_doc), MAX_PAGES_COMPARED))
        ]
        if full:
            _compare_full(comparison, originals, uploads)
        else:
            _compare_restricted(comparison, originals, uploads)
        comparison.certificate_pages = [
            number for number, page in enumerate(originals, 1) if _is_certificate_page(page.text)
        ]
        comparison.added_annotations = added_annotations(
            original=original, submitted=submitted, matched=comparison.matched
        )
        return comparison
    finally:
        upload_doc.close()
        sealed_doc.close()
        submitted.seek(0)


def _is_certificate_page(text: str) -> bool:
    """Whether a page of the sealed original is a page of our certificate of completion (its
    footer says "Certificate page n / m" in the document's language)."""
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext

    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            if re.search(re.escape(gettext("Certificate page")) + r"\s+\d+\s*/\s*\d+", text):
                return True
    return False


# Annotations that are part of a page's machinery rather than something someone put on it.
_NOT_NOTES = {"/Widget", "/Popup", "/Link"}
MAX_ANNOTATIONS = 20
MAX_ANNOTATION_TEXT = 80


def _annotation_key(ref: Any) -> tuple[str, tuple[int, ...], str] | None:
    """(kind, rounded rectangle, text) of an annotation; None for machinery or a broken one."""
    try:
        annot = ref.get_object()
        kind = str(annot.get("/Subtype", ""))
        rect = tuple(round(float(v)) for v in annot.get("/Rect", [])[:4])
        text = " ".join(str(annot.get("/Contents", "") or "").split())
    except Exception:  # a broken annotation: nothing to name
        return None
    return None if kind in _NOT_NOTES else (kind, rect, text)


def _page_annotations(reader: Any, index: int) -> list[Any]:
    try:
        annots = reader.pages[index].get("/Annots")
        return list(annots.get_object())[:200] if annots is not None else []
    except Exception:  # a broken page or annotation list: nothing to name there
        return []


def _annotations(
    data: bytes | IO[bytes], pages: set[int]
) -> dict[int, list[tuple[str, tuple[int, ...], str]]]:
    """(kind, rounded rectangle, text) of each annotation on the given 0-based pages."""
    from pypdf import PdfReader

    if not isinstance(data, bytes):
        data.seek(0)
    reader = PdfReader(io.BytesIO(data) if isinstance(data, bytes) else data, strict=False)
    found: dict[int, list[tuple[str, tuple[int, ...], str]]] = {}
    for index in sorted(pages):
        for ref in _page_annotations(reader, index):
            key = _annotation_key(ref)
            if key is not None:
                found.setdefault(index, []).append(key)
    return found


def added_annotations(
    *, original: bytes, submitted: IO[bytes], matched: dict[int, int]
) -> list[AddedAnnotation]:
    """Annotations on the upload's matching pages that its original page does not have.

    Their kind and text come from the upload itself, so naming them discloses nothing.
    """
    from verification.services import AddedAnnotation

    try:
        theirs = _annotations(submitted, {page - 1 for page in matched})
        ours = _annotations(original, {page - 1 for page in matched.values()})
    except Exception:  # pypdf cannot read the upload: the comparison already said what it could
        return []
    finally:
        submitted.seek(0)
    added: list[AddedAnnotation] = []
    for page, original_page in sorted(matched.items()):
        before = ours.get(original_page - 1, [])
        for kind, rect, text in theirs.get(page - 1, []):
            if (kind, rect, text) in before or len(added) >= MAX_ANNOTATIONS:
                continue
            if len(text) > MAX_ANNOTATION_TEXT:
                text = text[: MAX_ANNOTATION_TEXT - 1] + "…"
            added.append(AddedAnnotation(page=page, kind=kind.lstrip("/"), text=text))
    return added


def _compare_full(comparison: Comparison, originals: list[_Page], uploads: list[_Page]) -> None:
    """Page by page in order, whole pages pictured: for those entitled to the original."""
    from verification.services import PageDiff, TextChange

    for index in range(min(len(originals), len(uploads))):
        before, after = originals[index], uploads[index]
        comparison.matched[index + 1] = index + 1
        regions = changed_regions(before.shown, after.shown)
        for removed, added in word_changes(before.text, after.text):
            if len(comparison.text_changes) < MAX_TEXT_CHANGES:
                comparison.text_changes.append(
                    TextChange(page=index + 1, removed=removed, added=added)
                )
        if regions:
            diff = PageDiff(page=index + 1, regions=regions, original_page=index + 1)
            if len(comparison.page_diffs) < MAX_PAGES_PICTURED:
                diff.original_png = _png(before.picture(regions, IMAGE_SCALE))
                diff.submitted_png = _png(after.picture(regions, IMAGE_SCALE))
            comparison.page_diffs.append(diff)
    comparison.missing_pages = list(range(len(uploads) + 1, comparison.original_page_count + 1))
    comparison.unmatched_pages = list(range(len(originals) + 1, comparison.page_count + 1))


def _compare_restricted(
    comparison: Comparison, originals: list[_Page], uploads: list[_Page]
) -> None:
    """Only pages that clearly are pages of the original, and only where they differ."""
    from verification.services import PageDiff, TextChange

    matches = match_pages(originals, uploads)
    if not matches:
        return  # not this document: nothing of it is shown, not even its page count
    for index, original_index in sorted(matches.items()):
        before, after = originals[original_index], uploads[index]
        comparison.matched[index + 1] = original_index + 1
        old, new = before.own, after.own
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op != "equal" and len(comparison.text_changes) < MAX_TEXT_CHANGES:
                comparison.text_changes.append(
                    TextChange(
                        page=index + 1,
                        removed=" ".join(old[i1:i2]),
                        added=" ".join(new[j1:j2]),
                        original_page=original_index + 1,
                    )
                )
        regions = changed_regions(before.shown, after.shown)
        if regions:
            diff = PageDiff(page=index + 1, regions=regions, original_page=original_index + 1)
            if len(comparison.page_diffs) < MAX_PAGES_PICTURED:
                diff.crops = region_crops(before, after, regions)
            comparison.page_diffs.append(diff)
    comparison.unmatched_pages = [
        number for number in range(1, comparison.page_count + 1) if number - 1 not in matches
    ]
    found = set(matches.values())
    comparison.missing_pages = [
        number for number in range(1, comparison.original_page_count + 1) if number - 1 not in found
    ]


def compare_with_original(
    *, result: VerificationResult, stream: IO[bytes], original: SealedDocument, full: bool
) -> None:
    """Fill result's changes and reasons from the comparison with the sealed file.

    `full` is for those entitled to the original (its sender's employees, its signers);
    anyone else gets the restricted answer described in the module docstring.
    """
    with original.file.open("rb") as fh:
        original_bytes = fh.read()
    comparison = compare_pdfs(original=original_bytes, submitted=stream, full=full)
    if comparison is None:
        result.reasons.append("no_visible_change")
        return
    result.apply_comparison(comparison)
