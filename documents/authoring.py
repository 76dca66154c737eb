"""Templates written by employees in the browser: checks, preview, save, duplicate, default.

A template is checked by rendering it, in the same sandbox as real documents
(documents.rendering: autoescaped Django template without file loaders, WeasyPrint fetching
only data: URIs and the project's static files), with sample CRM values. A template that does
not render is not saved: the editor shows the message with its line instead.
"""

import base64
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from crm.models import Employee, OwnCompany
from documents.contexts import sample_context
from documents.errors import DocumentError
from documents.models import DocumentTemplate
from documents.previews import pdf_page_sizes, render_page_png
from documents.rendering import PlacedField, RenderedPdf, render_pdf

MAX_BODY_CHARS = 200_000
MAX_CSS_CHARS = 50_000
MAX_PREVIEW_PAGES = 30
PREVIEW_WIDTH_PX = 800


@dataclass
class PreviewBox:
    field: PlacedField
    left: float  # percent of the page, top-left origin, as the field editor shows boxes
    top: float
    width: float
    height: float


@dataclass
class TemplatePreview:
    page: int
    page_count: int
    image: str  # data: URI of the page PNG
    width_pt: float
    height_pt: float
    boxes: list[PreviewBox] = field(default_factory=list)
    blocked_urls: list[str] = field(default_factory=list)


def company_of(user: AbstractBaseUser) -> OwnCompany | None:
    employee = Employee.objects.filter(user_id=user.pk).select_related("company").first()
    return employee.company if employee else None


def template_render_sample(
    *, body: str, css: str, language: str, company: OwnCompany | None = None
) -> RenderedPdf:
    """Render with sample CRM values, or DocumentError with a message (and line) to show."""
    if len(body) > MAX_BODY_CHARS:
        raise DocumentError(
            _("The template is too long (%(count)d characters; the limit is %(limit)d).")
            % {"count": len(body), "limit": MAX_BODY_CHARS}
        )
    if len(css) > MAX_CSS_CHARS:
        raise DocumentError(
            _("The page CSS is too long (%(count)d characters; the limit is %(limit)d).")
            % {"count": len(css), "limit": MAX_CSS_CHARS}
        )
    rendered = render_pdf(
        body=body,
        css=css,
        context=sample_context(language=language, company=company),
        language=language,
    )
    if rendered.page_count > MAX_PREVIEW_PAGES:
        raise DocumentError(
            _("With sample values the template makes %(count)d pages; the limit is %(limit)d.")
            % {"count": rendered.page_count, "limit": MAX_PREVIEW_PAGES}
        )
    return rendered


def template_preview(
    *, body: str, css: str, language: str, page: int = 1, company: OwnCompany | None = None
) -> TemplatePreview:
    """One page of the template rendered with sample values, as an image with its field boxes."""
    rendered = template_render_sample(body=body, css=css, language=language, company=company)
    page = min(max(1, page), rendered.page_count)
    width, height = pdf_page_sizes(rendered.pdf)[page - 1]
    png = render_page_png(rendered.pdf, page=page, width_px=PREVIEW_WIDTH_PX)
    boxes = [
        PreviewBox(
            field=spec,
            left=spec.x / width * 100,
            top=(height - spec.y - spec.height) / height * 100,
            width=spec.width / width * 100,
            height=spec.height / height * 100,
        )
        for spec in rendered.fields
        if spec.page == page
    ]
    return TemplatePreview(
        page=page,
        page_count=rendered.page_count,
        image="data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        width_pt=width,
        height_pt=height,
        boxes=boxes,
        blocked_urls=rendered.refused_urls,
    )


def _full_clean(template: DocumentTemplate) -> None:
    try:
        template.full_clean()
    except ValidationError as exc:
        raise DocumentError("; ".join(exc.messages)) from exc


def template_create(
    *,
    creator: User,
    name: str,
    kind: str,
    language: str,
    body: str,
    css: str = "",
) -> DocumentTemplate:
    template_render_sample(body=body, css=css, language=language, company=company_of(creator))
    template = DocumentTemplate(
        name=name.strip()[:200],
        kind=kind,
        language=language,
        body=body,
        css=css,
        created_by=creator,
    )
    _full_clean(template)
    template.save()
    return template


def template_update(
    *,
    template: DocumentTemplate,
    actor: AbstractBaseUser,
    name: str,
    kind: str,
    language: str,
    body: str,
    css: str = "",
) -> DocumentTemplate:
    if template.builtin:
        raise DocumentError(
            _("Built-in templates cannot be changed: duplicate it and edit the copy.")
        )
    template_render_sample(body=body, css=css, language=language, company=company_of(actor))
    # The default is per language and for invoices only: a template that stops being either
    # gives the place back to the built-in one rather than clashing with another default.
    keeps_default = kind == DocumentTemplate.Kind.INVOICE and language == template.language
    template.name = name.strip()[:200]
    template.kind = kind
    template.language = language
    template.body = body
    template.css = css
    template.is_default_for_invoices = template.is_default_for_invoices and keeps_default
    _full_clean(template)
    template.save()
    return template


def template_duplicate(*, template: DocumentTemplate, creator: User) -> DocumentTemplate:
    copy = DocumentTemplate(
        name=(_("Copy of %(name)s") % {"name": template.name})[:200],
        kind=template.kind,
        language=template.language,
        body=template.body,
        css=template.css,
        created_by=creator,
    )
    _full_clean(copy)
    copy.save()
    return copy


def template_set_default(*, template: DocumentTemplate, default: bool) -> DocumentTemplate:
    """Make the template the default for invoices in its language (or stop being it)."""
    if template.builtin:
        raise DocumentError(
            _("Built-in templates cannot be changed: duplicate it and edit the copy.")
        )
    if default and template.kind != DocumentTemplate.Kind.INVOICE:
        raise DocumentError(_("Only an invoice template can be the default for invoices."))
    try:
        with transaction.atomic():
            if default:
                DocumentTemplate.objects.filter(
                    language=template.language, is_default_for_invoices=True
                ).exclude(pk=template.pk).update(is_default_for_invoices=False)
            template.is_default_for_invoices = default
            template.save(update_fields=["is_default_for_invoices"])
    except IntegrityError as exc:
        # Two employees marked two templates at the same moment: the unique constraint kept
        # one default, this one lost.
        template.is_default_for_invoices = False
        raise DocumentError(
            _("Another template was made the default at the same moment. Try again.")
        ) from exc
    return template


def template_delete(*, template: DocumentTemplate) -> None:
    if template.builtin:
        raise DocumentError(
            _("Built-in templates cannot be changed: duplicate it and edit the copy.")
        )
    template.delete()
