"""PDFs whose pages are turned (/Rotate) or cropped (MediaBox origin, smaller CropBox).

Everything here is written independently of signflow.pdf.PageGeometry, so that the tests
check the app's mapping against a second implementation and against pdfium's rendering.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    RectangleObject,
)

A4 = (0.0, 0.0, 595.28, 841.89)


@dataclass(frozen=True)
class Case:
    """One way a page can be stored; `display` is its size as a viewer shows it."""

    name: str
    rotate: int
    media: tuple[float, float, float, float] = A4
    crop: tuple[float, float, float, float] | None = None

    @property
    def visible(self) -> tuple[float, float, float, float]:
        box = self.crop or self.media
        return (
            max(box[0], self.media[0]),
            max(box[1], self.media[1]),
            min(box[2], self.media[2]),
            min(box[3], self.media[3]),
        )

    @property
    def display(self) -> tuple[float, float]:
        left, bottom, right, top = self.visible
        if self.rotate % 180:
            return top - bottom, right - left
        return right - left, top - bottom

    def user_matrix(self, x: float, y: float) -> tuple[float, ...]:
        """A text matrix that writes upright, as displayed, from display point (x, y)."""
        left, bottom, right, top = self.visible
        return {
            0: (1, 0, 0, 1, left + x, bottom + y),
            90: (0, 1, -1, 0, right - y, bottom + x),
            180: (-1, 0, 0, -1, right - x, top - y),
            270: (0, -1, 1, 0, left + y, top - x),
        }[self.rotate]

    def to_display(self, u: float, v: float) -> tuple[float, float]:
        """A user-space point as displayed (bottom-left origin)."""
        left, bottom, right, top = self.visible
        return {
            0: (u - left, v - bottom),
            90: (v - bottom, right - u),
            180: (right - u, top - v),
            270: (top - v, u - left),
        }[self.rotate]


CASES = [
    Case("rotate-90", 90),
    Case("rotate-180", 180),
    Case("rotate-270", 270),
    Case("offset-crop", 0, media=(100, 200, 800, 1100), crop=(150, 260, 650, 960)),
    Case("offset-crop-rotate-90", 90, media=(100, 200, 800, 1100), crop=(150, 260, 650, 960)),
]
CASE_IDS = [case.name for case in CASES]


def make_pdf(case: Case, *, pages: int = 1, texts: list[tuple[float, float, str]] | None = None):
    """Pages stored as `case` says, each with upright text at display points (x, y)."""
    writer = PdfWriter()
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
    width, height = case.display
    lines = texts if texts is not None else [(40, height - 60, f"Scan {case.name}")]
    for _ in range(pages):
        page = writer.add_blank_page(width=case.media[2], height=case.media[3])
        page.mediabox = RectangleObject(case.media)
        if case.crop is not None:
            page.cropbox = RectangleObject(case.crop)
        ops = b""
        for x, y, text in lines:
            matrix = " ".join(f"{value:.2f}" for value in case.user_matrix(x, y))
            ops += f"BT /F1 12 Tf {matrix} Tm ({text}) Tj ET\n".encode("cp1252")
        stream = DecodedStreamObject()
        stream.set_data(ops)
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        if case.rotate:
            page[NameObject("/Rotate")] = NumberObject(case.rotate)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_displayed(pdf: bytes, *, page: int = 1, scale: float = 2.0) -> Image.Image:
    """The page as a viewer shows it (pdfium applies /Rotate and the CropBox)."""
    document = pdfium.PdfDocument(pdf)
    try:
        return document[page - 1].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()
