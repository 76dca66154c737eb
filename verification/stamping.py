"""The identification stripe printed on every page and the SignFlow marks in the PDF metadata.

The stripe sits along the bottom edge of each page *as displayed*: after /Rotate, inside the
visible box (the CropBox clipped to the MediaBox, as pdfium and viewers show it). Its text
matrix is therefore rotated and moved in the page's user space (`_stripe_matrix`), from the
same page geometry as the fields (signflow.pdf.PageGeometry).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from typing import Any
from xml.sax.saxutils import escape

from signflow.pdf import PageGeometry

STRIPE_FONT = "/SFStripe"
STRIPE_FONT_FILE = "DejaVuSans.ttf"  # embedded (subset to WinAnsi), in static/fonts
RECORD_FILE_NAME = "signflow-record.json"
STRIPE_FONT_SIZE = 6.5
# Where the stripe's baseline starts, in points from the displayed page's bottom-left corner.
STRIPE_X, STRIPE_Y = 14.0, 7.0
INFO_CODE_KEY = "/SignFlowCode"
# The stripe reads "SignFlow <CODE> · ..." in every language: verification looks for it.
STRIPE_RE = re.compile(r"SignFlow\s+([A-Z0-9]{6,32})\b")


def _pdf_string(text: str) -> bytes:
    """A literal string in WinAnsiEncoding (the stripe font's encoding)."""
    raw = text.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped + b")"


def _visible_box(page: Any) -> tuple[tuple[float, float, float, float], int]:
    """The page's visible box (CropBox clipped to MediaBox) and its clockwise quarter turns."""
    geometry = PageGeometry.of(page)
    box = (geometry.left, geometry.bottom, geometry.right, geometry.top)
    return box, geometry.rotation // 90


def _stripe_matrix(page: Any) -> tuple[float, float, float, float, float, float]:
    """The text matrix that writes left to right along the visible bottom edge of `page`."""
    (left, bottom, right, top), quarter = _visible_box(page)
    x, y = STRIPE_X, STRIPE_Y
    if quarter == 1:
        return (0, 1, -1, 0, right - y, bottom + x)
    if quarter == 2:
        return (-1, 0, 0, -1, right - x, top - y)
    if quarter == 3:
        return (0, -1, 1, 0, left + y, top - x)
    return (1, 0, 0, 1, left + x, bottom + y)


def display_size(page: Any) -> tuple[float, float]:
    """Width and height of `page` as displayed: its visible box, turned by /Rotate."""
    return PageGeometry.of(page).size


def first_page_size(pdf_bytes: bytes) -> tuple[float, float] | None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_bytes))
    return display_size(reader.pages[0]) if len(reader.pages) else None


@functools.lru_cache(maxsize=1)
def _stripe_font_program() -> tuple[bytes, list[int], dict[str, Any]]:
    """DejaVu Sans cut down to the WinAnsi characters: font file, widths 32..255, metrics.

    Embedded, so that every font in a sealed PDF is in the file (PDF/A habits, and the same
    glyphs on every viewer); built once per process (~40 KB).
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from verification.certificate import fonts_dir

    chars = []
    for code in range(32, 256):
        try:
            chars.append(bytes([code]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append("")
    font = TTFont(str(fonts_dir() / STRIPE_FONT_FILE))
    options = subset.Options()
    options.notdef_outline = True
    options.layout_features = []
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(chars))
    subsetter.subset(font)
    cmap = font.getBestCmap()
    metrics = font["hmtx"].metrics
    scale = 1000 / font["head"].unitsPerEm
    widths = [
        round(metrics[cmap[ord(char)]][0] * scale) if char and ord(char) in cmap else 0
        for char in chars
    ]
    head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
    info = {
        "bbox": [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        "ascent": round(hhea.ascent * scale),
        "descent": round(hhea.descent * scale),
        "cap_height": round(getattr(os2, "sCapHeight", hhea.ascent) * scale),
    }
    out = io.BytesIO()
    font.save(out)
    return out.getvalue(), widths, info


def _embedded_stripe_font(writer: Any) -> Any:
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
        StreamObject,
    )

    program, widths, info = _stripe_font_program()
    base_font = NameObject("/SFSTRP+DejaVuSans")  # a subset: six-letter tag, then the name
    font_file = StreamObject()
    font_file.set_data(program)
    font_file[NameObject("/Length1")] = NumberObject(len(program))
    font_file = font_file.flate_encode()
    descriptor = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/FontDescriptor"),
            NameObject("/FontName"): base_font,
            NameObject("/Flags"): NumberObject(32),  # non-symbolic: WinAnsi names its glyphs
            NameObject("/FontBBox"): ArrayObject([NumberObject(v) for v in info["bbox"]]),
            NameObject("/ItalicAngle"): NumberObject(0),
            NameObject("/Ascent"): NumberObject(info["ascent"]),
            NameObject("/Descent"): NumberObject(info["descent"]),
            NameObject("/CapHeight"): NumberObject(info["cap_height"]),
            NameObject("/StemV"): FloatObject(80),
            NameObject("/FontFile2"): writer._add_object(font_file),
        }
    )
    return writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/TrueType"),
                NameObject("/BaseFont"): base_font,
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
                NameObject("/FirstChar"): NumberObject(32),
                NameObject("/LastChar"): NumberObject(255),
                NameObject("/Widths"): ArrayObject([NumberObject(w) for w in widths]),
                NameObject("/FontDescriptor"): writer._add_object(descriptor),
            }
        )
    )


def _xmp_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def xmp_packet(*, title: str, code: str, moment: dt.datetime) -> bytes:
    """XMP metadata: the title, the code and the dates, as the Info dictionary has them."""
    when = _xmp_date(moment)
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:identifier>{escape(code)}</dc:identifier>
   <pdf:Producer>SignFlow</pdf:Producer>
   <xmp:CreatorTool>SignFlow</xmp:CreatorTool>
   <xmp:CreateDate>{when}</xmp:CreateDate>
   <xmp:ModifyDate>{when}</xmp:ModifyDate>
   <xmp:MetadataDate>{when}</xmp:MetadataDate>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def stamp_pages(
    *,
    pdf_bytes: bytes,
    stripe_text: str,
    code: str,
    title: str,
    certificate_pdf: bytes,
    record_json: bytes | None = None,
    moment: dt.datetime | None = None,
) -> bytes:
    """Print the stripe on every page, append the certificate pages, mark the metadata.

    `record_json` (the certificate's machine-readable copy) is attached as
    signflow-record.json; the seal, applied after, covers it.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes)))
    font = _embedded_stripe_font(writer)
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
    xmp = DecodedStreamObject()
    xmp.set_data(xmp_packet(title=title, code=code, moment=moment or dt.datetime.now(dt.UTC)))
    xmp[NameObject("/Type")] = NameObject("/Metadata")
    xmp[NameObject("/Subtype")] = NameObject("/XML")
    writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    if record_json is not None:
        attachment = writer.add_attachment(RECORD_FILE_NAME, record_json)
        attachment.subtype = NameObject("/application#2Fjson")
        attachment.description = TextStringObject("SignFlow certificate of completion (JSON)")
        attachment.associated_file_relationship = NameObject("/Data")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
