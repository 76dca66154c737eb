"""Templates written by employees in the browser: checks, preview, save, duplicate, default.

A template is checked by rendering it, in the same sandbox as real documents
(documents.rendering: autoescaped Django template without file loaders, WeasyPrint fetching
only data: URIs and the project's static files), with sample CRM values. A template that does
not render is not saved: the editor shows the message with its line instead.

Every change (create, update, duplicate, default set or unset, delete) appends a
TemplateVersion in the same transaction: who, when, the texts after the change and a summary of
what changed. Only managers choose the company's defaults, and only they change a template
while it is a default (documents.access.can_set_default).
"""

import base64
import difflib
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from crm.models import Employee, OwnCompany
from documents.access import can_set_default
from documents.contexts import sample_context
from documents.errors import DocumentConflict, DocumentError
from documents.models import DocumentTemplate, TemplateVersion
from documents.previews import render_page_png
from documents.rendering import PREVIEW_CPU_SECONDS, PlacedField, RenderedPdf, render_pdf
from signflow.pdf import page_sizes as pdf_page_sizes

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
        cpu_seconds=PREVIEW_CPU_SECONDS,
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


# History ------------------------------------------------------------------------------------


def content_sha256(body: str, css: str) -> str:
    return hashlib.sha256(f"{body}\0{css}".encode()).hexdigest()


def _line_changes(before: str, after: str) -> tuple[int, int]:
    added = removed = 0
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("+ "):
            added += 1
        elif line.startswith("- "):
            removed += 1
    return added, removed


def _summary(previous: TemplateVersion | None, template: DocumentTemplate) -> dict[str, Any]:
    """What changed since `previous`, small enough to list: the versions keep the full texts."""
    if previous is None:
        return {"lines": len(template.body.splitlines())}
    added, removed = _line_changes(previous.body, template.body)
    return {
        "fields": [
            name
            for name in ("name", "kind", "language")
            if getattr(previous, name) != getattr(template, name)
        ],
        "body_added": added,
        "body_removed": removed,
        "css_changed": previous.css != template.css,
        "previous_sha256": previous.sha256,
    }


def _record(
    *,
    template: DocumentTemplate,
    change: str,
    author: AbstractBaseUser | None,
    extra: dict[str, Any] | None = None,
) -> TemplateVersion:
    """Append a version of `template` as it is now. Call inside the change's transaction."""
    # The template row's lock makes two changes at the same moment take numbers one after the
    # other instead of both reading the same last number.
    DocumentTemplate.objects.select_for_update().filter(pk=template.pk).exists()
    previous = TemplateVersion.objects.filter(template=template).order_by("-number").first()
    summary = _summary(previous, template)
    summary.update(extra or {})
    version = TemplateVersion(
        template=template,
        number=previous.number + 1 if previous else 1,
        change=change,
        name=template.name,
        kind=template.kind,
        language=template.language,
        body=template.body,
        css=template.css,
        sha256=content_sha256(template.body, template.css),
        is_default=template.is_default_for_invoices,
        summary=summary,
        author_id=author.pk if author is not None else None,
    )
    version.save()
    return version


def template_current_version(*, template: DocumentTemplate) -> TemplateVersion:
    """The version holding the template's content as it is now, recorded first (without an
    author) when the content changed outside the editor: built-in templates refreshed on
    deployment, templates older than the history."""
    with transaction.atomic():
        latest = TemplateVersion.objects.filter(template=template).order_by("-number").first()
        if latest is not None and latest.sha256 == content_sha256(template.body, template.css):
            return latest
        return _record(template=template, change=TemplateVersion.Change.RECORDED, author=None)


# Changes ------------------------------------------------------------------------------------


def _ensure_may_change(template: DocumentTemplate, actor: AbstractBaseUser) -> None:
    if template.builtin:
        raise DocumentConflict(
            _("Built-in templates cannot be changed: duplicate it and edit the copy."),
            "builtin_template",
        )
    if template.is_default_for_invoices and not can_set_default(actor, template):
        raise PermissionDenied(
            _("This template is the company's default: only a manager can change it.")
        )


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
    with transaction.atomic():
        template.save()
        _record(template=template, change=TemplateVersion.Change.CREATED, author=creator)
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
    _ensure_may_change(template, actor)
    template_render_sample(body=body, css=css, language=language, company=company_of(actor))
    with transaction.atomic():
        template = DocumentTemplate.objects.select_for_update().get(pk=template.pk)
        # Checked again under the lock: a manager may have made it the default meanwhile.
        _ensure_may_change(template, actor)
        # The default is per language and for invoices only: a template that stops being
        # either gives the place back to the built-in one rather than clashing with another.
        was_default = template.is_default_for_invoices
        keeps_default = kind == DocumentTemplate.Kind.INVOICE and language == template.language
        template.name = name.strip()[:200]
        template.kind = kind
        template.language = language
        template.body = body
        template.css = css
        template.is_default_for_invoices = was_default and keeps_default
        _full_clean(template)
        template.save()
        extra = {"default_dropped": True} if was_default and not keeps_default else None
        _record(template=template, change=TemplateVersion.Change.UPDATED, author=actor, extra=extra)
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
    with transaction.atomic():
        source = template_current_version(template=template)
        copy.save()
        _record(
            template=copy,
            change=TemplateVersion.Change.DUPLICATED,
            author=creator,
            extra={
                "source": template.pk,
                "source_name": template.name,
                "source_version": source.number,
            },
        )
    return copy


def template_set_default(
    *, template: DocumentTemplate, default: bool, actor: AbstractBaseUser
) -> DocumentTemplate:
    """Make the template the company's default for invoices in its language (or stop being
    it). A manager's decision: the default prints on every invoice, IBAN included."""
    if not can_set_default(actor, template):
        raise PermissionDenied(_("Only a manager can choose the company's default templates."))
    if template.builtin:
        raise DocumentConflict(
            _("Built-in templates cannot be changed: duplicate it and edit the copy."),
            "builtin_template",
        )
    if default and template.kind != DocumentTemplate.Kind.INVOICE:
        raise DocumentError(_("Only an invoice template can be the default for invoices."))
    try:
        with transaction.atomic():
            template = DocumentTemplate.objects.select_for_update().get(pk=template.pk)
            if template.is_default_for_invoices == default:
                return template
            if default:
                replaced = list(
                    DocumentTemplate.objects.select_for_update()
                    .filter(language=template.language, is_default_for_invoices=True)
                    .exclude(pk=template.pk)
                )
                for previous in replaced:
                    previous.is_default_for_invoices = False
                    previous.save(update_fields=["is_default_for_invoices"])
                    _record(
                        template=previous,
                        change=TemplateVersion.Change.DEFAULT_UNSET,
                        author=actor,
                        extra={"replaced_by": template.pk},
                    )
            template.is_default_for_invoices = default
            template.save(update_fields=["is_default_for_invoices"])
            _record(
                template=template,
                change=(
                    TemplateVersion.Change.DEFAULT_SET
                    if default
                    else TemplateVersion.Change.DEFAULT_UNSET
                ),
                author=actor,
            )
    except IntegrityError as exc:
        # Two managers marked two templates at the same moment: the unique constraint kept
        # one default, this one lost.
        template.is_default_for_invoices = False
        raise DocumentConflict(
            _("Another template was made the default at the same moment. Try again."),
            "default_changed",
        ) from exc
    return template


def template_delete(*, template: DocumentTemplate, actor: AbstractBaseUser) -> None:
    """Delete the template; its history stays (the versions keep its name and texts)."""
    _ensure_may_change(template, actor)
    with transaction.atomic():
        _record(template=template, change=TemplateVersion.Change.DELETED, author=actor)
        template.delete()
