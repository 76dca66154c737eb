"""Writes of the documents app: documents from templates, invoices and uploads; their fields.

Every function is keyword-only and raises `DocumentError` (documents.errors) with a translated,
user-facing `.message` for anything a person can fix; views show that message on the page.

Files are addressed by hash ("documents/<sha256>.pdf"). The file is written before the rows,
and deleted again if the rows cannot be saved, so a failure leaves neither a Document row nor
an orphan file (see `_save_document`).
"""

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from crm.models import Deal, Invoice
from documents.authoring import (
    template_create,
    template_current_version,
    template_delete,
    template_duplicate,
    template_set_default,
    template_update,
)
from documents.builtin import ensure_builtin_templates
from documents.contexts import deal_context, invoice_context
from documents.errors import DocumentConflict, DocumentError
from documents.layouts import layout_apply, layout_delete, layout_fields_for, layout_save
from documents.models import Document, DocumentTemplate, Field, FieldLayout
from documents.previews import needs_preview_task, previews_queue
from documents.rendering import PlacedField, render_pdf
from documents.selectors import company_default_template
from documents.uploads import CheckedPdf, normalize_upload
from signflow.pdf import page_sizes as pdf_page_sizes

__all__ = [
    "DocumentError",
    "default_upload_fields",
    "document_create_from_invoice",
    "document_create_from_template",
    "document_copy",
    "document_create_from_upload",
    "document_prefill",
    "ensure_builtin_templates",
    "field_create",
    "field_delete",
    "field_update",
    "invoice_template_for",
    "layout_apply",
    "layout_delete",
    "layout_save",
    "previews_queue",
    "template_create",
    "template_current_version",
    "template_delete",
    "template_duplicate",
    "template_set_default",
    "template_update",
]

logger = logging.getLogger(__name__)


def _store_pdf(data: bytes) -> tuple[str, str, bool]:
    """Write the PDF under its hash; return (name, sha256, whether this call created it)."""
    sha256 = hashlib.sha256(data).hexdigest()
    name = f"documents/{sha256}.pdf"
    if default_storage.exists(name):
        return name, sha256, False
    saved = default_storage.save(name, ContentFile(data))
    return saved, sha256, True


def _save_document(
    *, data: bytes, page_count: int, fields: Iterable[PlacedField], **attrs: Any
) -> Document:
    name, sha256, created = _store_pdf(data)
    try:
        with transaction.atomic():
            document = Document(sha256=sha256, page_count=page_count, **attrs)
            document.pdf.name = name
            document.full_clean()
            document.save()
            rows = [spec.to_field(document) for spec in fields]
            for row in rows:
                row.full_clean(exclude=["document"], validate_unique=False)
            Field.objects.bulk_create(rows)
    except ValidationError as exc:
        _discard_file(name, created)
        raise DocumentError(
            _("The document could not be saved: %(detail)s") % {"detail": "; ".join(exc.messages)}
        ) from exc
    except BaseException:
        _discard_file(name, created)
        raise
    if needs_preview_task(page_count):
        previews_queue(document=document)
    return document


def _discard_file(name: str, created: bool) -> None:
    # Only a file this call wrote, and only if no other document points at the same content.
    if created and not Document.objects.filter(pdf=name).exists():
        default_storage.delete(name)


def invoice_template_for(language: str) -> DocumentTemplate:
    """The template marked default for invoices in `language`, else the built-in one (created
    if a flushed database lost it)."""
    kind = DocumentTemplate.Kind.INVOICE
    template = company_default_template(kind=kind, language=language)
    if template is None:
        ensure_builtin_templates()
        template = DocumentTemplate.objects.get(kind=kind, language=language, builtin=True)
    return template


def document_create_from_template(
    *,
    template: DocumentTemplate,
    context: dict[str, Any],
    title: str,
    creator: AbstractBaseUser,
    language: str,
    deal: Deal | None = None,
    invoice: Invoice | None = None,
) -> Document:
    """Render `template` with `context` to a PDF and store it with the fields it places."""
    if deal is not None and not context:
        context = deal_context(deal, language=language)
    # The document records the exact texts that built it; they are what is rendered.
    version = template_current_version(template=template)
    rendered = render_pdf(body=version.body, css=version.css, context=context, language=language)
    return _save_document(
        data=rendered.pdf,
        page_count=rendered.page_count,
        fields=rendered.fields,
        title=title,
        source=Document.Source.TEMPLATE,
        template=template,
        template_version=version,
        language=language,
        created_by=creator,
        deal=deal,
        invoice=invoice,
    )


def document_create_from_invoice(
    *,
    invoice: Invoice,
    creator: AbstractBaseUser,
    language: str,
    template: DocumentTemplate | None = None,
) -> Document:
    """The invoice as a PDF with the company's and the client's signature fields."""
    template = template or invoice_template_for(language)
    with translation.override(language):
        title = _("Invoice %(number)s") % {"number": invoice.number}
    return document_create_from_template(
        template=template,
        context=invoice_context(invoice, language=language),
        title=title,
        creator=creator,
        language=language,
        deal=invoice.deal,
        invoice=invoice,
    )


def _empty_bottom(checked: CheckedPdf, *, margin: float, height: float, start: float) -> float:
    """The lowest y from `start` of an empty band across the last page (`start` if none)."""
    from documents.content_boxes import content_boxes, free_band_bottom

    page = checked.pages[-1]
    boxes = content_boxes(
        checked.data,
        sha256=hashlib.sha256(checked.data).hexdigest(),
        page_count=checked.page_count,
        pages=[checked.page_count],
    ).get(checked.page_count, [])
    found = free_band_bottom(
        boxes,
        left=margin / 2,
        right=page.width - margin / 2,
        page_height=page.height,
        height=height,
        start=start,
    )
    return start if found is None else found


def default_upload_fields(checked: CheckedPdf, *, language: str) -> list[PlacedField]:
    """Signature fields in empty space at the bottom of the last page: ours on the left, the
    client's right; the lowest band with no text or image in it (content_boxes), else the
    bottom margin (the field editor then warns that they cover something).

    Sizes are those of the invoice template on A4 and shrink on smaller pages. Like every field,
    they are in display space (documents.models): the bottom and width are those of the page
    as shown, whatever its /Rotate, MediaBox origin or CropBox.
    """
    width, height = checked.pages[-1].width, checked.pages[-1].height
    scale = min(1.0, width / 595.28, height / 841.89)
    margin, gap, bottom = 36 * scale, 8 * scale, 40 * scale
    sig_w, sig_h, stamp = 156 * scale, 68 * scale, 96 * scale
    bottom = _empty_bottom(checked, margin=margin, height=stamp + 6 * scale, start=bottom)
    with translation.override(language):  # the labels in the document's language
        boxes = [
            # key, kind, role, label, required, x, width, height
            ("company-signature", Field.Kind.SIGNATURE, Field.Role.COMPANY, _("Signature"), True,
             margin, sig_w, sig_h),
            ("company-stamp", Field.Kind.STAMP, Field.Role.COMPANY, _("Company stamp"), False,
             margin + sig_w + gap, stamp, stamp),
            ("client-signature", Field.Kind.SIGNATURE, Field.Role.CLIENT, _("Client signature"), True,
             width - margin - sig_w, sig_w, sig_h),
        ]  # fmt: skip
        return [
            PlacedField(
                key=key,
                kind=kind,
                role=role,
                label=label,
                required=required,
                page=checked.page_count,
                x=round(x, 2),
                y=round(bottom, 2),
                width=round(box_w, 2),
                height=round(box_h, 2),
            )
            for key, kind, role, label, required, x, box_w, box_h in boxes
        ]


def document_create_from_upload(
    *,
    uploaded_file: UploadedFile,
    title: str,
    creator: AbstractBaseUser,
    language: str = "fr",
    layout: FieldLayout | None = None,
) -> Document:
    """A PDF, PNG or JPEG upload, checked, as a document with its fields.

    Fields come from `layout` when one is given (DocumentError, and nothing stored, when its
    page size does not match), else from the file's text tags ({{signature:client}}...) when
    it has any, otherwise the default signature fields are placed on the last page.
    """
    title = (title or "").strip()
    if not title:
        raise DocumentError(_("Give the document a title."))
    checked = normalize_upload(uploaded_file=uploaded_file)
    from documents.text_tags import apply_text_tags

    data, fields = apply_text_tags(checked, language=language)
    if layout is not None:
        fields = layout_fields_for(layout=layout, page_sizes=pdf_page_sizes(data))
    if not fields:
        fields = default_upload_fields(checked, language=language)
    return _save_document(
        data=data,
        page_count=checked.page_count,
        fields=fields,
        title=title[:200],
        source=Document.Source.UPLOAD,
        language=language,
        created_by=creator,
        sanitized=checked.removed,
    )


def document_copy(
    *,
    document: Document,
    creator: User,
    title: str,
    prefilled: dict[str, str] | None = None,
) -> Document:
    """A new, unlocked document with the same PDF (the file is shared: addressed by hash) and
    a copy of its fields, `prefilled` giving some of them a value by key. Bulk send makes one
    per recipient from a document whose fields were placed once."""
    prefilled = prefilled or {}
    with transaction.atomic():
        shared = ("source", "template", "template_version", "language", "sha256", "page_count")
        copy = Document(
            title=title[:200],
            created_by=creator,
            sanitized=document.sanitized,
            **{name: getattr(document, name) for name in shared},
        )
        copy.pdf.name = document.pdf.name
        copy.full_clean()
        copy.save()
        fields = list(Field.objects.filter(document=document).order_by("pk"))
        for field in fields:
            field.pk = None
            field.document = copy
            field.prefilled = prefilled.get(field.key, field.prefilled)
        Field.objects.bulk_create(fields)
    if needs_preview_task(copy.page_count):
        previews_queue(document=copy)
    return copy


def document_prefill(*, document: Document, values: dict[str, str]) -> None:
    """Give fields of a document not yet sent a prefilled value, by field key."""
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        _ensure_editable(document)
        for key, value in values.items():
            Field.objects.filter(document=document, key=key).update(prefilled=value)


# Field editor ----------------------------------------------------------------------------


def _ensure_editable(document: Document) -> None:
    if document.locked:
        raise DocumentConflict(
            _("This document has been sent for signature: its fields can no longer be changed."),
            "document_locked",
        )


def _check_geometry(
    *, document: Document, page: int, x: float, y: float, w: float, h: float
) -> None:
    from documents.previews import page_size

    if not 1 <= page <= document.page_count:
        raise DocumentError(_("That page does not exist in this document."))
    page_w, page_h = page_size(document=document, page=page)
    if w < 6 or h < 6:
        raise DocumentError(_("A field must be at least 6 points wide and high."))
    if x < 0 or y < 0 or x + w > page_w + 0.5 or y + h > page_h + 0.5:
        raise DocumentError(_("The field must stay inside the page."))


def field_create(
    *,
    document: Document,
    kind: str,
    role: str,
    page: int,
    x: float,
    y: float,
    width: float,
    height: float,
    label: str = "",
    required: bool = True,
    phrase: str = "",
) -> Field:
    with transaction.atomic():
        # Lock the document row: a send that locks it cannot interleave with this edit.
        document = Document.objects.select_for_update().get(pk=document.pk)
        _ensure_editable(document)
        _check_geometry(document=document, page=page, x=x, y=y, w=width, h=height)
        existing = set(document.fields.values_list("key", flat=True))
        number = len(existing) + 1
        while f"{kind}-{role}-{number}" in existing:
            number += 1
        field = Field(
            document=document,
            key=f"{kind}-{role}-{number}",
            kind=kind,
            role=role,
            page=page,
            x=x,
            y=y,
            width=width,
            height=height,
            label=label,
            required=required,
            phrase=phrase,
        )
        try:
            field.full_clean()
        except ValidationError as exc:
            raise DocumentError("; ".join(exc.messages)) from exc
        field.save()
        return field


def field_update(*, field: Field, **changes: Any) -> Field:
    allowed = {"kind", "role", "page", "x", "y", "width", "height", "label", "required", "phrase"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"Cannot change {sorted(unknown)}")
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=field.document_id)
        _ensure_editable(document)
        for name, value in changes.items():
            setattr(field, name, value)
        _check_geometry(
            document=document, page=field.page, x=field.x, y=field.y, w=field.width, h=field.height
        )
        try:
            field.full_clean()
        except ValidationError as exc:
            raise DocumentError("; ".join(exc.messages)) from exc
        field.save(update_fields=sorted(changes))
        return field


def field_delete(*, field: Field) -> None:
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=field.document_id)
        _ensure_editable(document)
        field.delete()
