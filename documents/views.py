"""Thin views: upload, page previews and the field editor, field layouts, and the template
editor. Rules live in access.py and services.py; every error a person can cause is shown on the
page in their language."""

import difflib
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from documents import services
from documents.access import (
    can_edit_fields,
    can_edit_template,
    can_set_default,
    can_use_layout,
    can_view_document,
    can_view_template,
    is_employee,
    is_manager,
)
from documents.authoring import company_of, template_preview
from documents.content_boxes import content_boxes, overlaps
from documents.contexts import crm_variables
from documents.errors import DocumentError
from documents.forms import FieldForm, LayoutSaveForm, TemplateForm, UploadForm
from documents.models import Document, DocumentTemplate, Field, FieldLayout, TemplateVersion
from documents.previews import SIZES, page_image, read_pdf
from documents.sandbox import allowed_filters, allowed_tags
from documents.selectors import company_default_template, page_sizes
from signflow import pdfguard
from signflow.flash import flash_outcome
from signflow.http import AuthenticatedHttpRequest


def _document_for(request: AuthenticatedHttpRequest, document_id: int) -> Document:
    document = get_object_or_404(Document, pk=document_id)
    # Someone else's document looks like a missing one: no hint that the id exists.
    if not can_view_document(request.user, document):
        raise Http404
    return document


def after_upload_url(document: Document) -> str:
    try:
        return reverse("signing:send", kwargs={"document_id": document.pk})
    except NoReverseMatch:  # the signing app's send page is not wired yet
        return reverse("documents:edit_fields", kwargs={"document_id": document.pk})


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not is_employee(request.user):
        raise Http404
    language = (get_language() or "fr")[:2]
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        initial={"language": language},
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        try:
            document = services.document_create_from_upload(
                uploaded_file=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                creator=request.user,
                language=form.cleaned_data["language"],
                layout=form.cleaned_data.get("layout"),
            )
        except DocumentError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect(after_upload_url(document))
    return render(request, "documents/upload.html", {"form": form})


@login_required
@require_GET
def page_image_view(request: AuthenticatedHttpRequest, document_id: int, page: int) -> HttpResponse:
    document = _document_for(request, document_id)
    size = request.GET.get("size", "page")
    if size not in SIZES or not 1 <= page <= document.page_count:
        raise Http404
    try:
        data = page_image(document=document, page=page, size=size)
    except pdfguard.PdfGuardError as exc:  # a page too heavy to render within the limits
        return HttpResponse(exc.message, "text/plain; charset=utf-8", status=422)
    response = HttpResponse(data, "image/png")
    # The image of a stored PDF never changes (files are addressed by hash).
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _editor_context(document: Document, **extra: object) -> dict[str, object]:
    sizes = page_sizes(document)
    fields = list(document.fields.all())
    # Text and images already on the pages: a field over them gets a warning (the editor's
    # script checks again as fields move). Bounded and cached: documents.content_boxes.
    contents = content_boxes(
        read_pdf(document), sha256=document.sha256, page_count=document.page_count
    )
    for field in fields:
        rect = (field.x, field.y, field.width, field.height)
        # Read by the editor template (box.field.overlaps); writes views rework this module.
        field.overlaps = overlaps(rect, contents.get(field.page, []))  # type: ignore[attr-defined]
    pages = []
    for number, (width, height) in enumerate(sizes, start=1):
        boxes = [
            {
                "field": field,
                "left": field.x / width * 100,
                "top": (height - field.y - field.height) / height * 100,
                "width": field.width / width * 100,
                "height": field.height / height * 100,
            }
            for field in fields
            if field.page == number
        ]
        pages.append(
            {
                "number": number,
                "width": width,
                "height": height,
                "boxes": boxes,
                "content": json.dumps(contents.get(number, []), separators=(",", ":")),
            }
        )
    return {
        "document": document,
        "pages": pages,
        "fields": fields,
        "kinds": Field.Kind.choices,
        "roles": Field.Role.choices,
        "previews_pending": document.previews
        in (Document.Previews.QUEUED, Document.Previews.RENDERING),
        **extra,
    }


@login_required
@require_GET
def edit_fields(request: AuthenticatedHttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    layouts = FieldLayout.objects.filter(created_by_id=request.user.pk).order_by("name")
    return render(
        request,
        "documents/edit_fields.html",
        _editor_context(document, layouts=layouts, layout_form=LayoutSaveForm()),
    )


def _field_error(
    request: AuthenticatedHttpRequest, document: Document, message: str
) -> HttpResponse:
    if request.htmx:
        response = render(request, "documents/edit_fields.html#editor-message", {"error": message})
        # The message goes above the editor; the field's row stays as saved, and the box
        # follows the row back (field-editor.js).
        response["HX-Retarget"] = "#editor-message"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect("documents:edit_fields", document_id=document.pk)


def _saved(
    request: AuthenticatedHttpRequest, document: Document, field: Field | None
) -> HttpResponse:
    if request.htmx:
        if field is None:
            return HttpResponse("")
        return render(request, "documents/edit_fields.html#field-row", {"field": field})
    return redirect("documents:edit_fields", document_id=document.pk)


@login_required
@require_POST
def field_add(request: AuthenticatedHttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    if not can_edit_fields(request.user, document):
        return _field_error(request, document, _("This document can no longer be changed."))
    form = FieldForm(request.POST)
    if not form.is_valid():
        return _field_error(request, document, _("The field could not be added: check its values."))
    data = form.cleaned_data
    try:
        field = services.field_create(document=document, **data)
    except DocumentError as exc:
        return _field_error(request, document, exc.message)
    return _saved(request, document, field)


def _editable_field(
    request: AuthenticatedHttpRequest, document_id: int, field_id: int
) -> tuple[Document, Field, HttpResponse | None]:
    """The field to change, and the refusal to return when the document is locked."""
    document = _document_for(request, document_id)
    field = get_object_or_404(Field, pk=field_id, document=document)
    if not can_edit_fields(request.user, document):
        return (
            document,
            field,
            _field_error(request, document, _("This document can no longer be changed.")),
        )
    return document, field, None


@login_required
@require_POST
def field_change(
    request: AuthenticatedHttpRequest, document_id: int, field_id: int
) -> HttpResponse:
    document, field, refusal = _editable_field(request, document_id, field_id)
    if refusal is not None:
        return refusal
    form = FieldForm(request.POST)
    if not form.is_valid():
        return _field_error(request, document, _("The field could not be saved: check its values."))
    try:
        services.field_update(field=field, **form.cleaned_data)
    except DocumentError as exc:
        return _field_error(request, document, exc.message)
    return _saved(request, document, field)


@login_required
@require_POST
def field_remove(
    request: AuthenticatedHttpRequest, document_id: int, field_id: int
) -> HttpResponse:
    document, field, refusal = _editable_field(request, document_id, field_id)
    if refusal is not None:
        return refusal
    try:
        services.field_delete(field=field)
    except DocumentError as exc:
        return _field_error(request, document, exc.message)
    return _saved(request, document, None)


# Page previews of large files, rendered by a task -------------------------------------------


@login_required
@require_GET
def previews_status(request: AuthenticatedHttpRequest, document_id: int) -> HttpResponse:
    """The progress fragment the editor polls; once the previews are ready, a page reload."""
    document = _document_for(request, document_id)
    response = render(
        request, "documents/edit_fields.html#preview-progress", {"document": document}
    )
    if request.htmx and document.previews == Document.Previews.READY:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def previews_retry(request: AuthenticatedHttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    services.previews_queue(document=document)
    return redirect("documents:edit_fields", document_id=document.pk)


# Field layouts --------------------------------------------------------------------------------


@login_required
@require_POST
def layout_save(request: AuthenticatedHttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    form = LayoutSaveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the layout a name."))
        return redirect("documents:edit_fields", document_id=document.pk)
    try:
        layout = services.layout_save(
            document=document,
            name=form.cleaned_data["name"],
            creator=request.user,
        )
    except DocumentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _('Layout "%(name)s" saved: choose it when you upload the next document.')
            % {"name": layout.name},
        )
    return redirect("documents:edit_fields", document_id=document.pk)


@login_required
@require_POST
def layout_apply(request: AuthenticatedHttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    layout = get_object_or_404(FieldLayout, pk=request.POST.get("layout") or 0)
    if not can_use_layout(request.user, layout):
        raise Http404
    if not can_edit_fields(request.user, document):
        messages.error(request, _("This document can no longer be changed."))
        return redirect("documents:edit_fields", document_id=document.pk)
    flash_outcome(
        request,
        lambda: services.layout_apply(layout=layout, document=document),
        _('The fields of layout "%(name)s" are in place.') % {"name": layout.name},
    )
    return redirect("documents:edit_fields", document_id=document.pk)


@login_required
@require_GET
def layout_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not is_employee(request.user):
        raise Http404
    layouts = FieldLayout.objects.filter(created_by_id=request.user.pk).order_by("name")
    return render(request, "documents/layouts.html", {"layouts": layouts})


@login_required
@require_POST
def layout_remove(request: AuthenticatedHttpRequest, layout_id: int) -> HttpResponse:
    layout = get_object_or_404(FieldLayout, pk=layout_id)
    if not can_use_layout(request.user, layout):
        raise Http404
    services.layout_delete(layout=layout)
    messages.success(request, _('Layout "%(name)s" deleted.') % {"name": layout.name})
    return redirect("documents:layout_list")


# Template editor ----------------------------------------------------------------------------


def _template_for(request: AuthenticatedHttpRequest, template_id: int) -> DocumentTemplate:
    template = get_object_or_404(DocumentTemplate, pk=template_id)
    if not can_view_template(request.user, template):
        raise Http404
    return template


FIELD_EXAMPLE = (
    '{% field "signature" party="client" label="Signature" width="6cm" height="2.5cm" %}'
)
STARTER_BODY = """{% load i18n %}<h1>{{ company.legal_name }}</h1>
<p>{{ client.legal_name }}<br>{{ client.address|linebreaksbr }}</p>

<p>…</p>

{% field "signature" party="company" key="company-signature" %}
{% field "signature" party="client" key="client-signature" %}
"""


@login_required
@require_GET
def template_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not is_employee(request.user):
        raise Http404
    own = DocumentTemplate.objects.filter(builtin=False, created_by_id=request.user.pk)
    others = DocumentTemplate.objects.none()
    if is_manager(request.user):
        others = (
            DocumentTemplate.objects.filter(builtin=False)
            .exclude(created_by_id=request.user.pk)
            .select_related("created_by")
        )
    # A read only: the built-in templates are created after `migrate` (documents.apps).
    builtin = DocumentTemplate.objects.filter(builtin=True).order_by("kind", "language")
    defaults = [
        (name, company_default_template(kind=DocumentTemplate.Kind.INVOICE, language=code))
        for code, name in settings.LANGUAGES
    ]
    return render(
        request,
        "documents/template_list.html",
        {
            "own": own,
            "others": others,
            "builtin": builtin,
            "defaults": defaults,
            "may_choose_defaults": is_manager(request.user),
        },
    )


def _editor_page(
    request: AuthenticatedHttpRequest,
    *,
    form: TemplateForm,
    template: DocumentTemplate | None,
    preview_page: int = 1,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """The template editor with a preview of the form's current content (or its error)."""
    context: dict[str, Any] = {
        "form": form,
        "template": template,
        "editable": template is None or can_edit_template(request.user, template),
        "kinds": Field.Kind.choices,
        "roles": Field.Role.choices,
        "variables": crm_variables(),
        "field_example": FIELD_EXAMPLE,
        "allowed_tags": allowed_tags(),
        "allowed_filters": allowed_filters(),
        "history": _history(template),
        **extra,
    }
    if "preview" not in context and "preview_error" not in context:
        context.update(_preview(request, form, preview_page))
    return render(request, "documents/template_form.html", context, status=status)


HISTORY_ROWS = 30
DIFF_LINES = 200


def _history(template: DocumentTemplate | None) -> list[dict[str, Any]]:
    """The template's versions, newest first, each with its diff against the one before."""
    if template is None:
        return []
    versions = list(
        TemplateVersion.objects.filter(template=template)
        .select_related("author")
        .order_by("-number")[: HISTORY_ROWS + 1]
    )
    rows = []
    for index, version in enumerate(versions[:HISTORY_ROWS]):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        diff: list[str] = []
        if previous is not None and previous.sha256 != version.sha256:
            diff = list(
                difflib.unified_diff(
                    (previous.body + "\n/* CSS */\n" + previous.css).splitlines(),
                    (version.body + "\n/* CSS */\n" + version.css).splitlines(),
                    f"v{previous.number}",
                    f"v{version.number}",
                    lineterm="",
                    n=1,
                )
            )[:DIFF_LINES]
        rows.append({"version": version, "summary": version.summary, "diff": "\n".join(diff)})
    return rows


def _preview(request: AuthenticatedHttpRequest, form: TemplateForm, page: int) -> dict[str, Any]:
    data = form.data if form.is_bound else form.initial
    language = str(data.get("language") or "fr")
    if language not in dict(settings.LANGUAGES):
        language = "fr"
    try:
        preview = template_preview(
            body=str(data.get("body") or ""),
            css=str(data.get("css") or ""),
            language=language,
            page=page,
            company=company_of(request.user),
        )
    except DocumentError as exc:
        return {"preview": None, "preview_error": exc.message}
    return {"preview": preview, "preview_error": None}


def _initial(template: DocumentTemplate) -> dict[str, str]:
    return {
        "name": template.name,
        "kind": template.kind,
        "language": template.language,
        "body": template.body,
        "css": template.css,
    }


@login_required
@require_http_methods(["GET", "POST"])
def template_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not is_employee(request.user):
        raise Http404
    language = (get_language() or "fr")[:2]
    if request.method == "GET":
        form = TemplateForm(initial={"language": language, "kind": "other", "body": STARTER_BODY})
        return _editor_page(request, form=form, template=None)
    form = TemplateForm(request.POST)
    if form.is_valid():
        try:
            template = services.template_create(creator=request.user, **form.cleaned_data)
        except DocumentError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Template saved."))
            return redirect("documents:template_edit", template_id=template.pk)
    return _editor_page(request, form=form, template=None, status=400)


def _read_only_reason(template: DocumentTemplate) -> str:
    if template.builtin:
        return _("Built-in templates cannot be changed: duplicate it and edit the copy.")
    if template.is_default_for_invoices:
        return _(
            "This template is the company's default: only a manager can change it. "
            "Duplicate it to propose a new version."
        )
    return _("Only its author or a manager can change this template.")


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request: AuthenticatedHttpRequest, template_id: int) -> HttpResponse:
    template = _template_for(request, template_id)
    if request.method == "GET":
        return _editor_page(
            request, form=TemplateForm(initial=_initial(template)), template=template
        )
    if not can_edit_template(request.user, template):
        messages.error(request, _read_only_reason(template))
        return redirect("documents:template_edit", template_id=template.pk)
    form = TemplateForm(request.POST)
    if form.is_valid():
        try:
            services.template_update(template=template, actor=request.user, **form.cleaned_data)
        except DocumentError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Template saved."))
            return redirect("documents:template_edit", template_id=template.pk)
    return _editor_page(request, form=form, template=template, status=400)


@login_required
@require_POST
def template_preview_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The preview of what the editor holds: the fragment for htmx, else the whole editor."""
    if not is_employee(request.user):
        raise Http404
    template = None
    if request.POST.get("template"):
        template = _template_for(request, int(request.POST["template"] or 0))
    try:
        page = int(request.POST.get("page") or 1)
    except ValueError:
        page = 1
    form = TemplateForm(request.POST)
    if template is not None and not can_edit_template(request.user, template):
        # A read-only template's fields are disabled and not posted: preview what is stored.
        form = TemplateForm(initial=_initial(template))
    if request.htmx:
        return render(
            request, "documents/template_form.html#preview", _preview(request, form, page)
        )
    return _editor_page(request, form=form, template=template, preview_page=page)


@login_required
@require_POST
def template_duplicate(request: AuthenticatedHttpRequest, template_id: int) -> HttpResponse:
    template = _template_for(request, template_id)
    copy = services.template_duplicate(template=template, creator=request.user)
    messages.success(request, _("This is your copy: change it and save it."))
    return redirect("documents:template_edit", template_id=copy.pk)


@login_required
@require_POST
def template_default(request: AuthenticatedHttpRequest, template_id: int) -> HttpResponse:
    template = _template_for(request, template_id)
    if not can_set_default(request.user, template):
        # Seen but not a manager's: refused outright, nothing changes.
        raise PermissionDenied
    default = request.POST.get("default") == "1"
    flash_outcome(
        request,
        lambda: services.template_set_default(
            template=template, default=default, actor=request.user
        ),
        _('"%(name)s" is now the default template for invoices in %(language)s.')
        % {"name": template.name, "language": template.get_language_display()}
        if default
        else _("The built-in template is the default for invoices again."),
    )
    return redirect("documents:template_list")


@login_required
@require_POST
def template_remove(request: AuthenticatedHttpRequest, template_id: int) -> HttpResponse:
    template = _template_for(request, template_id)
    if not can_edit_template(request.user, template):
        raise Http404
    services.template_delete(template=template, actor=request.user)
    messages.success(request, _('Template "%(name)s" deleted.') % {"name": template.name})
    return redirect("documents:template_list")
