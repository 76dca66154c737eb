"""Text tags in uploaded PDFs: {{signature:client}}, {{date:company}}... become fields.

pdfium gives each character's box, so a tag's rectangle is known to the point. Those boxes are
in the page's user space; they are turned into display space (after /Rotate, from the visible
box's corner: the Field convention, documents.models) before anything else. The field is
anchored at the tag's lower-left corner as displayed (grown to a usable size for signatures and
stamps, towards the right and the top of the displayed page), and the tag itself is covered
with white so it does not show under the value.
"""

import re

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.utils import translation

from documents.errors import DocumentError
from documents.models import Field
from documents.rendering import PlacedField
from documents.templatetags.signflow_fields import default_label
from documents.uploads import CheckedPdf
from signflow import pdfguard

TAG = re.compile(
    r"\{\{\s*(signature|initials|stamp|date|text|number|checkbox|name|requisites)"
    r"\s*:\s*(company|client)\s*\}\}"
)
MIN_SIZES = {
    Field.Kind.SIGNATURE: (150.0, 60.0),
    Field.Kind.INITIALS: (50.0, 30.0),
    Field.Kind.STAMP: (90.0, 90.0),
    Field.Kind.CHECKBOX: (12.0, 12.0),
}
DEFAULT_MIN = (80.0, 16.0)


# Parsed in a bounded child process: a page can inflate to gigabytes (signflow.pdfguard).
@pdfguard.guarded(error=DocumentError)
def find_tags(data: bytes) -> list[tuple[int, str, str, tuple[float, float, float, float]]]:
    """(page, kind, role, (left, bottom, right, top)) of every tag, in the page's user space."""
    found = []
    pdf = pdfium.PdfDocument(data)
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            count = textpage.count_chars()
            text = "".join(
                chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i) or 32) for i in range(count)
            )
            for match in TAG.finditer(text):
                boxes = [textpage.get_charbox(i) for i in range(match.start(), match.end())]
                boxes = [box for box in boxes if box[2] > box[0] and box[3] > box[1]]
                if not boxes:
                    continue
                rect = (
                    min(box[0] for box in boxes),
                    min(box[1] for box in boxes),
                    max(box[2] for box in boxes),
                    max(box[3] for box in boxes),
                )
                found.append((index + 1, match.group(1), match.group(2), rect))
    finally:
        pdf.close()
    return found


def apply_text_tags(checked: CheckedPdf, *, language: str) -> tuple[bytes, list[PlacedField]]:
    """Return the PDF without its tags, and a field at each tag (none: unchanged PDF).

    The tags' text is taken out of the content streams (documents.redact), so that neither the
    pages nor the sealed file's text (pdftotext, search, copy) show it; a tag that could not
    be taken out (a font without a Unicode map) is covered with white instead.
    """
    from documents.redact import remove_text

    tags = find_tags(checked.data)
    if not tags:
        return checked.data, []
    fields: list[PlacedField] = []
    counters: dict[str, int] = {}
    with translation.override(language):
        for page, kind, role, user_rect in tags:
            geometry = checked.pages[page - 1]
            page_width, page_height = geometry.width, geometry.height
            left, bottom, right, top = geometry.rect_to_display(*user_rect)
            x, y = left, bottom
            min_w, min_h = MIN_SIZES.get(Field.Kind(kind), DEFAULT_MIN)
            width = min(max(right - left, min_w), page_width)
            height = min(max(top - bottom, min_h), page_height)
            x = max(0.0, min(x, page_width - width))
            y = max(0.0, min(y, page_height - height))
            counters[f"{kind}-{role}"] = counters.get(f"{kind}-{role}", 0) + 1
            fields.append(
                PlacedField(
                    key=f"{kind}-{role}-{counters[f'{kind}-{role}']}",
                    kind=kind,
                    role=role,
                    label=default_label(kind, role),
                    required=kind != Field.Kind.STAMP,
                    page=page,
                    x=round(x, 2),
                    y=round(y, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                )
            )
    data, _removed = remove_text(checked.data, TAG, {page for page, *_rest in tags})
    covers: dict[int, list[tuple[float, float, float, float]]] = {}
    for page, _kind, _role, user_rect in find_tags(data) if data != checked.data else tags:
        left, bottom, right, top = checked.pages[page - 1].rect_to_display(*user_rect)
        covers.setdefault(page, []).append(
            (left - 1, bottom - 1, right - left + 2, top - bottom + 2)
        )
    if not covers:
        return data, fields
    from documents.flatten import cover_rectangles

    return cover_rectangles(data, covers), fields
