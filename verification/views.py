"""Public verification pages and the JSON API. No login: anyone holding a copy may check it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from signflow import pdfguard
from verification import explaining, keys, ratelimit, reporting, uploads
from verification.models import SealedDocument
from verification.selectors import sealed_by_code
from verification.services import verify_pdf


def _too_large_message() -> str:
    return _("This file is too large: the limit is %(size)s.") % {
        "size": filesizeformat(uploads.max_upload_bytes())
    }


def _error_messages() -> dict[str, str]:
    return {
        "too_large": _too_large_message(),
        "no_file": _("Choose a PDF file to verify."),
        "not_pdf": _("This file is not a PDF. Upload the PDF you received after signing."),
        "rate_limited": _("Too many verifications from your address. Wait a minute and retry."),
        "not_found": _("No sealed document has this code. Check the code printed on the page."),
        "too_complex": str(pdfguard.PdfTooComplex.default_message),
    }


def _receive_upload(
    request: HttpRequest, handler: uploads.HashingLimitUploadHandler
) -> tuple[Any, str | None, str]:
    """(uploaded file, its sha256, error code) once the body went through `handler`."""
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError:  # a body that claims to be multipart but is not: no file in it
        return None, None, "no_file"
    if handler.too_large:
        return None, None, "too_large"
    if upload is None:
        return None, None, "no_file"
    if upload.size is not None and upload.size > uploads.max_upload_bytes():
        return None, None, "too_large"
    return upload, handler.digests.get("file"), ""


def _guard_status(exc: pdfguard.PdfGuardError) -> int:
    """422 for a file beyond the parsing limits (too_complex), 400 for an unreadable one."""
    return 422 if isinstance(exc, pdfguard.PdfTooComplex) else 400


def _form_page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("max_bytes", uploads.max_upload_bytes())
    result = context.get("result")
    if result is not None:
        context["reason_texts"] = explaining.page_texts(result)
    return render(request, "verification/verify.html", context, status=status)


@csrf_exempt  # CSRF is checked in _verify_upload, after our upload handler is installed
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request)
    if uploads.declared_too_large(request):
        return _form_page(request, status=400, error=_too_large_message())
    if not ratelimit.allow(request):
        return _form_page(request, status=429, error=_error_messages()["rate_limited"])
    # The handler must be in place before anything reads the body, the CSRF check included.
    handler = uploads.install_handler(request)
    return _verify_upload(request, handler)


@csrf_protect
def _verify_upload(
    request: HttpRequest, handler: uploads.HashingLimitUploadHandler
) -> HttpResponse:
    upload, sha256, error = _receive_upload(request, handler)
    if error:
        return _form_page(request, status=400, error=_error_messages()[error])
    try:
        with upload.open("rb") as stream:
            result = verify_pdf(data=stream, sha256=sha256)
    except pdfguard.PdfGuardError as exc:  # a PDF bomb, or a file that crashed the parser
        return _form_page(request, status=_guard_status(exc), error=exc.message)
    if result.error == "not_pdf":
        return _form_page(request, status=400, error=_error_messages()["not_pdf"])
    return _form_page(request, result=result, filename=upload.name)


def comparison_page(
    request: HttpRequest, *, original: SealedDocument, template: str, context: dict[str, Any]
) -> HttpResponse:
    """Compare an upload with `original` in full: whole pages side by side, every change.

    For callers that already decided the user is entitled to the original (signing's envelope
    page and signer link); the public page never gets here. The calling view must be
    `csrf_exempt`: CSRF is checked here, once the upload handler is in place.
    """
    context = {**context, "original": original, "max_bytes": uploads.max_upload_bytes()}
    if request.method != "POST":
        return render(request, template, context)
    if uploads.declared_too_large(request):
        return render(request, template, {**context, "error": _too_large_message()}, status=400)
    if not ratelimit.allow(request):
        context["error"] = _error_messages()["rate_limited"]
        return render(request, template, context, status=429)
    handler = uploads.install_handler(request)
    return _compare_upload(request, handler, original, template, context)


@csrf_protect
def _compare_upload(
    request: HttpRequest,
    handler: uploads.HashingLimitUploadHandler,
    original: SealedDocument,
    template: str,
    context: dict[str, Any],
) -> HttpResponse:
    upload, sha256, error = _receive_upload(request, handler)
    if error:
        return render(request, template, {**context, "error": _error_messages()[error]}, status=400)
    try:
        with upload.open("rb") as stream:
            result = verify_pdf(
                data=stream,
                sha256=sha256,
                full_comparison=lambda sealed: sealed.pk == original.pk,
            )
    except pdfguard.PdfGuardError as exc:  # a PDF bomb, or a file that crashed the parser
        context["error"] = exc.message
        return render(request, template, context, status=_guard_status(exc))
    if result.error == "not_pdf":
        context["error"] = _error_messages()["not_pdf"]
        return render(request, template, context, status=400)
    context.update(result=result, filename=upload.name, reason_texts=explaining.page_texts(result))
    return render(request, template, context)


@require_GET
def by_code(request: HttpRequest, code: str) -> HttpResponse:
    """What the QR code opens: the registry's metadata, never the document's content."""
    sealed = sealed_by_code(code)
    if sealed is None:
        return render(
            request,
            "verification/code.html",
            {"code": code, "error": _error_messages()["not_found"]},
            status=404,
        )
    return render(
        request,
        "verification/code.html",
        {"code": code, "sealed": sealed, "info": reporting.sealed_as_json(sealed)},
    )


@require_GET
def root_certificate(_request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        keys.verification_material().root_pem(), content_type="application/x-pem-file"
    )
    response["Content-Disposition"] = 'attachment; filename="signflow-root.pem"'
    return response


# --- JSON API ------------------------------------------------------------------------------------


def _api_error(code: str, status: int) -> JsonResponse:
    return JsonResponse(
        reporting.error_json(code, _error_messages().get(code, code)),
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@csrf_exempt  # a machine API without cookies; nothing here changes state
@require_http_methods(["POST"])
def api_verify(request: HttpRequest) -> HttpResponse:
    if uploads.declared_too_large(request):
        return _api_error("too_large", 413)
    if not ratelimit.allow(request, scope="api"):
        return _api_error("rate_limited", 429)
    upload, sha256, error = _receive_upload(request, uploads.install_handler(request))
    if error:
        return _api_error(error, 413 if error == "too_large" else 400)
    try:
        with upload.open("rb") as stream:
            result = verify_pdf(data=stream, sha256=sha256, with_diff=True)
    except pdfguard.PdfGuardError as exc:  # a PDF bomb, or a file that crashed the parser
        return _api_error(exc.code, _guard_status(exc))
    if result.error == "not_pdf":
        return _api_error("not_pdf", 400)
    return JsonResponse(reporting.result_as_json(result), json_dumps_params={"ensure_ascii": False})


@require_GET
def api_by_code(request: HttpRequest, code: str) -> HttpResponse:
    if not ratelimit.allow(request, scope="api"):
        return _api_error("rate_limited", 429)
    sealed = sealed_by_code(code)
    if sealed is None:
        return _api_error("not_found", 404)
    data: dict[str, Any] = {
        "schema": reporting.SCHEMA_VERSION,
        # A code proves nothing about a particular file: upload the file for a verdict.
        "verdict": None,
        "registered": True,
        **reporting.sealed_as_json(sealed),
        "message": _("A document with this code was sealed by SignFlow."),
        "error": None,
    }
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})
