"""Thin views: upload, page previews and the field editor. Rules live in access.py and
services.py; every error a person can cause is shown on the page in their language."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from documents import services
from documents.access import can_edit_fields, can_view_document
from documents.errors import DocumentError
from documents.forms import FieldForm, UploadForm
from documents.models import Document, Field
from documents.previews import SIZES, page_image
from documents.selectors import page_sizes


def _document_for(request: HttpRequest, document_id: int) -> Document:
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
def upload(request: HttpRequest) -> HttpResponse:
    language = (get_language() or "fr")[:2]
    form = UploadForm(request.POST or None, request.FILES or None, initial={"language": language})
    if request.method == "POST" and form.is_valid():
        try:
            document = services.document_create_from_upload(
                uploaded_file=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                creator=request.user,  # type: ignore[arg-type]
                language=form.cleaned_data["language"],
            )
        except DocumentError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect(after_upload_url(document))
    return render(request, "documents/upload.html", {"form": form})


@login_required
@require_GET
def page_image_view(request: HttpRequest, document_id: int, page: int) -> HttpResponse:
    document = _document_for(request, document_id)
    size = request.GET.get("size", "page")
    if size not in SIZES or not 1 <= page <= document.page_count:
        raise Http404
    response = HttpResponse(page_image(document=document, page=page, size=size), "image/png")
    # The image of a stored PDF never changes (files are addressed by hash).
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _editor_context(document: Document, **extra: object) -> dict[str, object]:
    sizes = page_sizes(document)
    fields = list(document.fields.all())
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
        pages.append({"number": number, "width": width, "height": height, "boxes": boxes})
    return {
        "document": document,
        "pages": pages,
        "fields": fields,
        "kinds": Field.Kind.choices,
        "roles": Field.Role.choices,
        **extra,
    }


@login_required
@require_GET
def edit_fields(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    return render(request, "documents/edit_fields.html", _editor_context(document))


def _field_error(request: HttpRequest, document: Document, message: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        response = render(request, "documents/edit_fields.html#editor-message", {"error": message})
        # The message goes above the editor; the field's row stays as saved, and the box
        # follows the row back (field-editor.js).
        response["HX-Retarget"] = "#editor-message"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect("documents:edit_fields", document_id=document.pk)


def _saved(request: HttpRequest, document: Document, field: Field | None) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        if field is None:
            return HttpResponse("")
        return render(request, "documents/edit_fields.html#field-row", {"field": field})
    return redirect("documents:edit_fields", document_id=document.pk)


@login_required
@require_POST
def field_add(request: HttpRequest, document_id: int) -> HttpResponse:
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


@login_required
@require_POST
def field_change(request: HttpRequest, document_id: int, field_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    field = get_object_or_404(Field, pk=field_id, document=document)
    if not can_edit_fields(request.user, document):
        return _field_error(request, document, _("This document can no longer be changed."))
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
def field_remove(request: HttpRequest, document_id: int, field_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    field = get_object_or_404(Field, pk=field_id, document=document)
    if not can_edit_fields(request.user, document):
        return _field_error(request, document, _("This document can no longer be changed."))
    try:
        services.field_delete(field=field)
    except DocumentError as exc:
        return _field_error(request, document, exc.message)
    return _saved(request, document, None)
