"""Field values drawn onto the document's pages: what the seal step signs.

Each page that has values gets an overlay page the size of the page as displayed, rendered by
WeasyPrint (absolutely positioned boxes at the fields' rectangles, which are in display space:
see documents.models), drawn on top of the original page as a form XObject through the
transformation from display space to the page's user space (PageGeometry.to_user: it undoes
/Rotate and moves the origin to the visible box's corner). The original content stream is left
as it was (wrapped in q/Q), so nothing else on the page changes. The file is edited with
pikepdf (qpdf): unchanged objects and stream data are copied from the input as they are.
"""

import base64
import dataclasses
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import IO, Any, BinaryIO, cast

import pikepdf
from django.utils.translation import gettext as _
from PIL import Image, ImageFont
from weasyprint import HTML

from documents.errors import DocumentError
from documents.fetcher import SandboxedURLFetcher, static_root
from documents.models import Document, Field
from documents.uploads import max_pixels
from signflow.pdf import PageGeometry, PikePage

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


def _unfilled_covers(
    document: Document, values: Sequence[FlattenValue]
) -> dict[int, list[tuple[float, float, float, float]]]:
    """The white rectangles that erase the frame and caption of every field nobody filled
    in, by page: only documents built from a template have them drawn in; a checkbox stays
    (an unticked box is an answer too)."""
    if document.source != Document.Source.TEMPLATE:
        return {}
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
    return covers


def erase_unfilled(*, document: Document, data: bytes, values: Sequence[FlattenValue]) -> bytes:
    """`data` (the flattened document) with the frame and caption of every field nobody filled
    in covered in white (see `_unfilled_covers`)."""
    covers = _unfilled_covers(document, values)
    return cover_rectangles(data, covers) if covers else data


def _cover_html(rectangles: Sequence[tuple[float, float, float, float]], height: float) -> str:
    return "".join(
        f'<div style="position:absolute;left:{x:.3f}pt;top:{height - y - h:.3f}pt;'
        f'width:{w:.3f}pt;height:{h:.3f}pt;background:#fff"></div>'
        for x, y, w, h in rectangles
    )


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


@dataclass
class _PageDrawing:
    """What one page gets, in drawing order: outlines, values, then the white covers of the
    unfilled fields (on top, as when they were drawn in a pass of their own)."""

    values: list[FlattenValue] = dataclasses.field(default_factory=list)
    outlines: list[Field] = dataclasses.field(default_factory=list)
    covers: list[tuple[float, float, float, float]] = dataclasses.field(default_factory=list)

    def html(self, *, height: float) -> str:
        parts = "".join(_outline_html(item, page_height=height) for item in self.outlines)
        parts += "".join(_value_html(value, page_height=height) for value in self.values)
        return parts + _cover_html(self.covers, height)


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


def _drawings(
    document: Document, values: list[FlattenValue], outlines: Sequence[Field], erase: bool
) -> dict[int, _PageDrawing]:
    for item in [*(value.field for value in values), *outlines]:
        if item.document_id != document.pk:
            raise ValueError("A value belongs to a field of another document")
    pages: dict[int, _PageDrawing] = {}
    for number, rectangles in (_unfilled_covers(document, values) if erase else {}).items():
        pages.setdefault(number, _PageDrawing()).covers.extend(rectangles)
    for value in values:
        pages.setdefault(value.field.page, _PageDrawing()).values.append(value)
    for item in outlines:
        pages.setdefault(item.page, _PageDrawing()).outlines.append(item)
    return pages


def flatten_pdf(
    *,
    document: Document,
    values: list[FlattenValue],
    outlines: Sequence[Field] = (),
    erase: bool = False,
    into: IO[bytes] | None = None,
) -> bytes:
    """The document's PDF with every value drawn inside its field's rectangle, and each field
    of `outlines` (the empty ones, in a copy read before signing) drawn as a labelled box.

    With `erase`, the fields nobody filled in are erased in the same pass (erase_unfilled).
    With `into`, the PDF is written to that file and b"" returned: the document is read from
    storage as a stream, so a large scan is never held twice in memory.
    """
    drawings = _drawings(document, values, outlines, erase)
    with document.pdf.open("rb") as source, pikepdf.open(cast(BinaryIO, source)) as pdf:
        for number, drawing in sorted(drawings.items()):
            _draw(pdf, pdf.pages[number - 1], drawing)
        return save_pdf(pdf, into)


def save_pdf(pdf: Any, into: IO[bytes] | None) -> bytes:
    """Write `pdf` to `into` (b"" returned) or return it. Streams are copied as they are:
    nothing is decoded, recompressed or packed into object streams."""
    options = {
        "compress_streams": False,
        "stream_decode_level": pikepdf.StreamDecodeLevel.none,
        "object_stream_mode": pikepdf.ObjectStreamMode.preserve,
    }
    if into is not None:
        pdf.save(into, **options)
        return b""
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def _draw(pdf: Any, page: Any, drawing: _PageDrawing) -> None:
    """One WeasyPrint overlay of the page's size as displayed, drawn on top of the page as a
    form XObject, through the display-to-user transformation; the page's own content is
    wrapped in q/Q so that whatever state it leaves does not move the overlay."""
    geometry = PageGeometry.of(PikePage(page))
    overlay = _overlay_from_html(
        drawing.html(height=geometry.height), width=geometry.width, height=geometry.height
    )
    with pikepdf.open(io.BytesIO(overlay)) as drawn:
        form = pdf.copy_foreign(drawn.make_indirect(drawn.pages[0].as_form_xobject()))
    name = page.add_resource(form, pikepdf.Name.XObject, prefix="SFv")
    ctm = " ".join(f"{value:.6f}".rstrip("0").rstrip(".") for value in geometry.to_user().ctm)
    page.contents_add(pdf.make_stream(b"q\n"), prepend=True)
    page.contents_add(pdf.make_stream(f"\nQ\nq {ctm} cm {name} Do Q\n".encode()))


def cover_rectangles(
    data: bytes, covers: dict[int, list[tuple[float, float, float, float]]]
) -> bytes:
    """The PDF with white rectangles on pages: (x, y, width, height) in display space."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for number, rectangles in sorted(covers.items()):
            _draw(pdf, pdf.pages[number - 1], _PageDrawing(covers=list(rectangles)))
        return save_pdf(pdf, None)
