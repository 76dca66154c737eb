"""Templates (list), documents: a PDF uploaded with its fields (JSON, or its text tags, or the
default ones), or rendered from a template with a deal's or an invoice's data.

documents.services does the work, documents.access and crm.access decide who may.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import File, Form, Router, UploadedFile
from ninja.responses import Status
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError

from api import auth
from api.endpoints.common import attrs, caller, changed, form_error, require
from api.errors import validation_fields
from api.schemas import ERRORS as COMMON_ERRORS
from api.schemas import (
    DocumentOut,
    ErrorOut,
    FieldIn,
    FromTemplateIn,
    Language,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
)
from crm import access as crm_access
from crm.models import Deal, Invoice
from documents import access
from documents import services as document_services
from documents.forms import TemplateForm
from documents.models import Document, DocumentTemplate, Field
from documents.services import (
    DocumentError,
    document_create_from_invoice,
    document_create_from_template,
    document_create_from_upload,
    field_create,
    field_delete,
)
from signflow.errors import NotAllowed, SignFlowError
from signflow.text import clean_text

router = Router(tags=["Documents"])
ERRORS: dict[int, Any] = {**COMMON_ERRORS, 413: ErrorOut, 422: ErrorOut}
FIELDS = TypeAdapter(list[FieldIn])


def field_out(field: Field, *, filled: bool = False, method: str = "") -> dict[str, Any]:
    return {
        **attrs(field, "id", "key", "kind", "role", "page", "x", "y", "width", "height"),
        **attrs(field, "label", "required"),
        "filled": filled,
        "method": method,
    }


def document_out(document: Document) -> dict[str, Any]:
    return {
        "id": document.pk,
        "public_id": str(document.public_id),
        "title": document.title,
        "source": document.source,
        "language": document.language,
        "page_count": document.page_count,
        "sha256": document.sha256,
        "locked": document.locked,
        "deal_id": document.deal_id,
        "invoice_id": document.invoice_id,
        "created_at": document.created_at,
        "fields": [field_out(f) for f in document.fields.all()],
    }


@router.get("/templates", response={200: list[TemplateOut], **ERRORS}, auth=auth.READ)
def template_list(request: HttpRequest) -> Any:
    user = caller(request)
    templates = DocumentTemplate.objects.order_by("name", "id")
    return [template_out(t) for t in templates if access.can_view_template(user, t)]


def template_out(template: DocumentTemplate) -> dict[str, Any]:
    return {
        "id": template.pk,
        "name": template.name,
        "kind": template.kind,
        "language": template.language,
        "builtin": template.builtin,
        "is_default_for_invoices": template.is_default_for_invoices,
        "created_at": template.created_at,
    }


def _template_data(data: dict[str, Any]) -> dict[str, Any]:
    """Checked by the template editor's own form (lengths, choices, text cleaning)."""
    form = TemplateForm(data)
    if not form.is_valid():
        raise form_error(form)
    return form.cleaned_data


@router.post("/templates", response={201: TemplateOut, **ERRORS}, auth=auth.TEMPLATES)
def template_create(request: HttpRequest, payload: TemplateIn) -> Any:
    """A new template (rendered once with sample data first: a template that fails is refused)."""
    user = caller(request)
    require(access.is_employee(user))
    template = document_services.template_create(
        creator=user, **_template_data(payload.model_dump())
    )
    return Status(201, template_out(template))


@router.patch(
    "/templates/{int:template_id}", response={200: TemplateOut, **ERRORS}, auth=auth.TEMPLATES
)
def template_update(request: HttpRequest, template_id: int, payload: TemplatePatch) -> Any:
    user = caller(request)
    template = get_object_or_404(DocumentTemplate, pk=template_id)
    require(access.can_view_template(user, template))
    if not access.can_edit_template(user, template):
        raise NotAllowed(message=_("You may not change this template: duplicate it."))
    current = {
        name: getattr(template, name) for name in ("name", "kind", "language", "body", "css")
    }
    data = _template_data({**current, **changed(payload)})
    template = document_services.template_update(template=template, actor=user, **data)
    return template_out(template)


def _fields_from_json(raw: str) -> list[FieldIn]:
    try:
        return FIELDS.validate_python(json.loads(raw))
    except ValueError as exc:  # not JSON, or a pydantic ValidationError (a ValueError)
        errors = exc.errors() if isinstance(exc, PydanticError) else []
        fields = {
            f"fields.{name}": messages
            for name, messages in validation_fields(
                [{**e, "loc": ["form", *e["loc"]]} for e in errors]
            ).items()
        } or {"fields": [_("Give the fields as a JSON list of objects.")]}
        raise SignFlowError("invalid", _("The fields are not valid."), fields=fields) from None


@router.post("/documents", response={201: DocumentOut, **ERRORS}, auth=auth.SEND)
def document_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    title: Form[str],
    language: Form[Language] = "fr",
    fields: Form[str | None] = None,
) -> Any:
    """Upload a PDF (or PNG/JPEG). `fields`: a JSON list of fields (FieldIn) to place; without
    it, the file's text tags ({{signature:client}}...) or the default signature fields."""
    user = caller(request)
    require(access.is_employee(user))
    wanted = _fields_from_json(fields) if fields is not None else None
    document = document_create_from_upload(
        uploaded_file=file, title=clean_text(title)[:200], creator=user, language=language
    )
    if wanted is not None:
        # In the call's transaction (api.calls): a field refused undoes the whole upload.
        for old in list(document.fields.all()):
            field_delete(field=old)
        for index, spec in enumerate(wanted):
            try:
                field_create(document=document, **spec.model_dump())
            except DocumentError as exc:
                raise SignFlowError(
                    "invalid", exc.message, fields={f"fields.{index}": [exc.message]}
                ) from exc
    return Status(201, document_out(document))


@router.post("/documents/from-template", response={201: DocumentOut, **ERRORS}, auth=auth.SEND)
def document_from_template(request: HttpRequest, payload: FromTemplateIn) -> Any:
    """Render a template with a deal's data (`deal_id`) or an invoice's (`invoice_id`)."""
    user = caller(request)
    template = get_object_or_404(DocumentTemplate, pk=payload.template_id)
    require(access.can_view_template(user, template))
    if (payload.deal_id is None) == (payload.invoice_id is None):
        message = _("Give either deal_id or invoice_id.")
        raise SignFlowError("invalid", message, fields={"deal_id": [message]})
    language = payload.language or template.language
    if payload.invoice_id is not None:
        invoice = get_object_or_404(Invoice.objects.select_related("deal"), pk=payload.invoice_id)
        require(crm_access.can_edit_invoice(user, invoice))
        document = document_create_from_invoice(
            invoice=invoice, creator=user, language=language, template=template
        )
    else:
        deal = get_object_or_404(Deal, pk=payload.deal_id)
        require(crm_access.can_edit_deal(user, deal))
        document = document_create_from_template(
            template=template,
            context={},
            title=payload.title or f"{template.name} — {deal.title}",
            creator=user,
            language=language,
            deal=deal,
        )
    return Status(201, document_out(document))


@router.get("/documents/{int:document_id}", response={200: DocumentOut, **ERRORS}, auth=auth.READ)
def document_detail(request: HttpRequest, document_id: int) -> Any:
    document = get_object_or_404(Document, pk=document_id)
    require(access.can_view_document(caller(request), document))
    return document_out(document)
