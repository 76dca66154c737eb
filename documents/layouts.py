"""Field layouts: a document's fields saved under a name and placed again on the next upload.

A layout only fits pages of the size it was made on (to within a point): a field placed on an
A4 page would land somewhere else, or off the page, on a Letter one. Fields of the source's
last page go to the last page of the new document, so a contract that grew by a page still
gets its signatures at the end.

Sizes and rectangles are those of the pages as displayed (documents.models): a landscape scan
stored as a portrait page with /Rotate 90 counts as landscape, as the person sees it.
"""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from documents.errors import DocumentError
from documents.models import Document, Field, FieldLayout
from documents.previews import read_pdf
from documents.rendering import PlacedField
from signflow.pdf import page_sizes as pdf_page_sizes

SIZE_TOLERANCE_PT = 1.0
NAMED_SIZES = {(595, 842): "A4", (842, 595): "A4", (612, 792): "Letter", (792, 612): "Letter"}


def describe_size(width: float, height: float) -> str:
    """ "595 × 842 pt (A4)": a page size a person recognises."""
    text = f"{width:.0f} × {height:.0f} pt"
    name = NAMED_SIZES.get((round(width), round(height)))
    return f"{text} ({name})" if name else text


def layout_save(*, document: Document, name: str, creator: User) -> FieldLayout:
    name = (name or "").strip()
    if not name:
        raise DocumentError(_("Give the layout a name."))
    fields = list(document.fields.all())
    if not fields:
        raise DocumentError(_("This document has no fields to save as a layout."))
    sizes = pdf_page_sizes(read_pdf(document))
    layout = FieldLayout(
        name=name[:200],
        created_by=creator,
        pages=[[round(width, 3), round(height, 3)] for width, height in sizes],
        fields=[
            {
                "key": field.key,
                "kind": field.kind,
                "role": field.role,
                "page": field.page,
                "last_page": field.page == document.page_count,
                "x": field.x,
                "y": field.y,
                "width": field.width,
                "height": field.height,
                "label": field.label,
                "required": field.required,
                "phrase": field.phrase,
            }
            for field in fields
        ],
    )
    try:
        layout.full_clean()
    except ValidationError as exc:
        raise DocumentError("; ".join(exc.messages)) from exc
    layout.save()
    return layout


def layout_fields_for(
    *, layout: FieldLayout, page_sizes: list[tuple[float, float]]
) -> list[PlacedField]:
    """The layout's fields placed on a document with these page sizes, or DocumentError."""
    count = len(page_sizes)
    placed = []
    for spec in layout.fields:
        source_page = int(spec["page"])
        page = count if spec.get("last_page") else source_page
        if page > count:
            raise DocumentError(
                ngettext(
                    'The layout "%(name)s" places a field on page %(page)d, but this document '
                    "has only %(count)d page.",
                    'The layout "%(name)s" places a field on page %(page)d, but this document '
                    "has only %(count)d pages.",
                    count,
                )
                % {"name": layout.name, "page": page, "count": count}
            )
        expected_w, expected_h = layout.pages[source_page - 1]
        actual_w, actual_h = page_sizes[page - 1]
        if (
            abs(expected_w - actual_w) > SIZE_TOLERANCE_PT
            or abs(expected_h - actual_h) > SIZE_TOLERANCE_PT
        ):
            raise DocumentError(
                _(
                    'The layout "%(name)s" was made for pages of %(expected)s, but page %(page)d '
                    "of this document measures %(actual)s. Choose another layout, or none."
                )
                % {
                    "name": layout.name,
                    "expected": describe_size(expected_w, expected_h),
                    "page": page,
                    "actual": describe_size(actual_w, actual_h),
                }
            )
        placed.append(
            PlacedField(
                key=str(spec["key"]),
                kind=str(spec["kind"]),
                role=str(spec["role"]),
                label=str(spec.get("label", "")),
                required=bool(spec.get("required", True)),
                page=page,
                x=float(spec["x"]),
                y=float(spec["y"]),
                width=float(spec["width"]),
                height=float(spec["height"]),
                phrase=str(spec.get("phrase", ""))[:200],
            )
        )
    return placed


def layout_apply(*, layout: FieldLayout, document: Document) -> list[Field]:
    """Replace the document's fields with the layout's, or change nothing (DocumentError)."""
    placed = layout_fields_for(layout=layout, page_sizes=pdf_page_sizes(read_pdf(document)))
    with transaction.atomic():
        # Lock the document row: a send that locks it cannot interleave with this change.
        document = Document.objects.select_for_update().get(pk=document.pk)
        if document.locked:
            raise DocumentError(
                _("This document has been sent for signature: its fields can no longer be changed.")
            )
        document.fields.all().delete()
        rows = [spec.to_field(document) for spec in placed]
        try:
            for row in rows:
                row.full_clean(exclude=["document"], validate_unique=False)
        except ValidationError as exc:
            raise DocumentError("; ".join(exc.messages)) from exc
        return Field.objects.bulk_create(rows)


def layout_delete(*, layout: FieldLayout) -> None:
    layout.delete()
