"""Field values drawn onto the document's pages: what the seal step signs.

Each page that has values gets an overlay page the size of the page as displayed, rendered by
WeasyPrint (absolutely positioned boxes at the fields' rectangles, which are in display space:
see documents.models), merged on top of the original page with pypdf through the transformation
from display space to the page's user space (PageGeometry.to_user: it undoes /Rotate and moves
the origin to the visible box's corner). The original content stream is left as it was (pypdf
wraps it in q/Q), so nothing else on the page changes.
"""

import base64
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from django.utils.translation import gettext as _
from PIL import Image, ImageFont
from pypdf import PdfReader, PdfWriter
from weasyprint import HTML

from documents.errors import DocumentError
from documents.fetcher import SandboxedURLFetcher, static_root
from documents.models import Document, Field
from documents.previews import read_pdf
from documents.uploads import PageGeometry, max_pixels

logger = logging.getLogger(__name__)

MIN_FONT_PT = 4.0
LINE_HEIGHT = 1.2


@dataclass
class FlattenValue:
    field: Field
    text: str = ""
    image: bytes | None = None  # PNG (transparent background) of a signature or stamp


@lru_cache(maxsize=1)
def _measure_font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(static_root() / "fonts" / "DejaVuSans.ttf"), size=100)


def fit_font_size(text: str, *, width: float, height: float) -> float:
    """The largest size (pt) at which every line fits the box, capped for short text."""
    lines = text.splitlines() or [""]
    font = _measure_font()
    widest = max((font.getlength(line) for line in lines), default=0.0) / 100  # per pt
    by_height = height / (len(lines) * LINE_HEIGHT)
    size = min(by_height, 0.7 * height if len(lines) == 1 else by_height, 14.0)
    if widest > 0:
        size = min(size, (width * 0.96) / widest)
    return max(MIN_FONT_PT, round(size, 2))


def _image_data_uri(data: bytes) -> str:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > max_pixels():
            raise DocumentError(_("A signature image is too large."))
        if image.format != "PNG":
            out = io.BytesIO()
            image.save(out, "PNG")
            data = out.getvalue()
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError(_("A signature or stamp image could not be read.")) from exc
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _value_html(value: FlattenValue, *, page_height: float) -> str:
    field = value.field
    top = page_height - field.y - field.height
    box = (
        f"position:absolute;left:{field.x:.3f}pt;top:{top:.3f}pt;"
        f"width:{field.width:.3f}pt;height:{field.height:.3f}pt;"
    )
    if value.image:
        return (
            f'<img style="{box}object-fit:contain;object-position:50% 50%" '
            f'src="{_image_data_uri(value.image)}">'
        )
    text = value.text
    if field.kind == Field.Kind.CHECKBOX:
        text = "\u2713" if text.strip().lower() not in ("", "0", "false", "no", "off") else ""
    if not text:
        return ""
    size = fit_font_size(text, width=field.width, height=field.height)
    return (
        f'<div style="{box}overflow:hidden;display:flex;align-items:center;'
        f"justify-content:flex-start;font-size:{size}pt;line-height:{LINE_HEIGHT};"
        f'{_text_font(field)}"><span style="white-space:pre">{escape(text)}</span></div>'
    )


def _text_font(field: Field) -> str:
    """A mention ("Bon pour accord") is written by the signer's hand: the handwriting font,
    in ink blue, like the typed signature next to it. Every other value is printed."""
    if field.kind == Field.Kind.MENTION:
        return "font-family:'Dancing Script';color:#1b2a6b"
    return ""


# Fields of a document built from a template are drawn into its pages (a caption above a
# framed box, documents.rendering). One that nobody filled in (optional, or no longer asked)
# is erased when sealing, so nothing on the final document looks pending. The caption sits
# above the box: 7.5 pt text at line-height 1.35 and a 1 mm gap.
CAPTION_ABOVE_PT = 14.0
FRAME_PT = 1.5


def erase_unfilled(*, document: Document, data: bytes, values: Sequence[FlattenValue]) -> bytes:
    """`data` (the flattened document) with the frame and caption of every field nobody filled
    in covered in white. Only documents built from a template have them drawn in; a checkbox
    stays (an unticked box is an answer too)."""
    if document.source != Document.Source.TEMPLATE:
        return data
    filled = {value.field.pk for value in values if value.image or value.text.strip()}
    covers: dict[int, list[tuple[float, float, float, float]]] = {}
    for field in document.fields.exclude(kind=Field.Kind.CHECKBOX):
        if field.pk in filled:
            continue
        covers.setdefault(field.page, []).append(
            (
                field.x - FRAME_PT,
                field.y - FRAME_PT,
                field.width + 2 * FRAME_PT,
                field.height + 2 * FRAME_PT + CAPTION_ABOVE_PT,
            )
        )
    return cover_rectangles(data, covers) if covers else data


def _outline_html(field: Field, *, page_height: float) -> str:
    """An empty field as a signer sees it before signing: a dashed box with its label."""
    top = page_height - field.y - field.height
    size = max(MIN_FONT_PT, min(8.0, field.height * 0.3))
    return (
        f'<div style="position:absolute;left:{field.x:.3f}pt;top:{top:.3f}pt;'
        f"width:{field.width:.3f}pt;height:{field.height:.3f}pt;box-sizing:border-box;"
        f"border:1pt dashed #2459d6;background:rgba(36,89,214,.06);color:#2459d6;"
        f'font-size:{size:.2f}pt;padding:1pt;overflow:hidden">'
        f"{escape(field.label or str(field.get_kind_display()))}</div>"
    )


def _overlay_pdf(
    values: list[FlattenValue], outlines: list[Field], *, width: float, height: float
) -> bytes:
    parts = "".join(_outline_html(field, page_height=height) for field in outlines)
    parts += "".join(_value_html(value, page_height=height) for value in values)
    return _overlay_from_html(parts, width=width, height=height)


def _overlay_from_html(parts: str, *, width: float, height: float) -> bytes:
    html = (
        '<!doctype html><html><head><meta charset="utf-8"><style>'
        '@font-face { font-family: "DejaVu Sans"; src: url("fonts/DejaVuSans.ttf"); }'
        '@font-face { font-family: "Dancing Script"; src: url("fonts/DancingScript-Regular.otf"); }'
        f"@page {{ size: {width:.3f}pt {height:.3f}pt; margin: 0 }}"
        "html, body { margin: 0; padding: 0; font-family: 'DejaVu Sans'; color: #10182b; }"
        f"</style></head><body>{parts}</body></html>"
    )
    return HTML(
        string=html, base_url=static_root().as_uri() + "/", url_fetcher=SandboxedURLFetcher()
    ).write_pdf()


def flatten_pdf(
    *,
    document: Document,
    values: list[FlattenValue],
    outlines: Sequence[Field] = (),
    erase: bool = False,
) -> bytes:
    """The document's PDF with every value drawn inside its field's rectangle, and each field
    of `outlines` (the empty ones, in a copy read before signing) drawn as a labelled box."""
    for item in [*(value.field for value in values), *outlines]:
        if item.document_id != document.pk:
            raise ValueError("A value belongs to a field of another document")
    reader = PdfReader(io.BytesIO(read_pdf(document)))
    writer = PdfWriter(clone_from=reader)
    by_page: dict[int, tuple[list[FlattenValue], list[Field]]] = {}
    for value in values:
        by_page.setdefault(value.field.page, ([], []))[0].append(value)
    for field in outlines:
        by_page.setdefault(field.page, ([], []))[1].append(field)
    for number, (page_values, page_outlines) in sorted(by_page.items()):
        page = writer.pages[number - 1]
        geometry = PageGeometry.of(page)
        overlay = _overlay_pdf(
            page_values, page_outlines, width=geometry.width, height=geometry.height
        )
        overlay_page = PdfReader(io.BytesIO(overlay)).pages[0]
        page.merge_transformed_page(overlay_page, geometry.to_user())
    out = io.BytesIO()
    writer.write(out)
    if erase:
        return erase_unfilled(document=document, data=out.getvalue(), values=values)
    return out.getvalue()


def cover_rectangles(
    data: bytes, covers: dict[int, list[tuple[float, float, float, float]]]
) -> bytes:
    """The PDF with white rectangles on pages: (x, y, width, height) in display space."""
    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter(clone_from=reader)
    for number, rectangles in sorted(covers.items()):
        page = writer.pages[number - 1]
        geometry = PageGeometry.of(page)
        height = geometry.height
        parts = "".join(
            f'<div style="position:absolute;left:{x:.3f}pt;top:{height - y - h:.3f}pt;'
            f'width:{w:.3f}pt;height:{h:.3f}pt;background:#fff"></div>'
            for x, y, w, h in rectangles
        )
        overlay = _overlay_from_html(parts, width=geometry.width, height=height)
        page.merge_transformed_page(PdfReader(io.BytesIO(overlay)).pages[0], geometry.to_user())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
