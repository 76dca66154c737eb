"""Every error of the API as `{"error": {"code", "message", "fields"}}`, with a stable code.

Services raise `signflow.errors.SignFlowError` subclasses (SigningError, DocumentError...) and
CRM services Django's ValidationError; ninja raises its own for bad input and missing keys.
Each becomes the same JSON shape; a file storage outage is a 503 `storage_unavailable`; anything
else is a bug and stays a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from api.auth import RateLimited
from signflow.errors import SignFlowError
from signflow.storage import StorageUnavailable

logger = logging.getLogger(__name__)


def error_response(
    code: str, message: str, status: int, fields: dict[str, list[str]] | None = None
) -> JsonResponse:
    body = {"error": {"code": code, "message": str(message), "fields": fields or {}}}
    return JsonResponse(body, status=status)


# Messages for the pydantic error types a client meets; the rest get the generic one.
def _message_for(kind: str, context: dict[str, Any]) -> str:
    messages = {
        "missing": _("This field is required."),
        "string_too_long": _("At most %(max_length)s characters.")
        % {"max_length": context.get("max_length", "")},
        "string_too_short": _("This field cannot be empty."),
        "string_type": _("Enter a text."),
        "int_parsing": _("Enter a whole number."),
        "int_type": _("Enter a whole number."),
        "bool_parsing": _("Enter true or false."),
        "bool_type": _("Enter true or false."),
        "decimal_parsing": _("Enter a number."),
        "decimal_type": _("Enter a number."),
        "decimal_max_digits": _("This number has too many digits."),
        "decimal_max_places": _("This number has too many decimal places."),
        "date_parsing": _("Enter a date as YYYY-MM-DD."),
        "date_from_datetime_parsing": _("Enter a date as YYYY-MM-DD."),
        "datetime_parsing": _("Enter a date and time in ISO 8601 (2026-12-01T10:00:00+01:00)."),
        "datetime_from_date_parsing": _(
            "Enter a date and time in ISO 8601 (2026-12-01T10:00:00+01:00)."
        ),
        "literal_error": _("Choose one of: %(expected)s.")
        % {"expected": context.get("expected", "")},
        "enum": _("Choose one of: %(expected)s.") % {"expected": context.get("expected", "")},
        "greater_than_equal": _("Must be at least %(ge)s.") % {"ge": context.get("ge", "")},
        "greater_than": _("Must be more than %(gt)s.") % {"gt": context.get("gt", "")},
        "less_than_equal": _("Must be at most %(le)s.") % {"le": context.get("le", "")},
        "less_than": _("Must be less than %(lt)s.") % {"lt": context.get("lt", "")},
        "too_long": _("Too many items (at most %(max_length)s).")
        % {"max_length": context.get("max_length", "")},
        "too_short": _("Give at least %(min_length)s item(s).")
        % {"min_length": context.get("min_length", "")},
        "list_type": _("Enter a list."),
        "model_attributes_type": _("Enter an object."),
        "dict_type": _("Enter an object."),
        "json_invalid": _("The body is not valid JSON."),
        "extra_forbidden": _("Unknown field."),
    }
    if kind in messages:
        return messages[kind]
    return _("This value is not valid.")


def _field_name(loc: list[Any], body_params: set[str]) -> str:
    """("body", "payload", "parties", 0, "email") -> "parties.0.email"; ("query", "limit") ->
    "limit". The body parameter's own name is the function's, not the client's."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "form", "file", "cookie"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in body_params:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "__all__"


BODY_PARAMS = {"payload", "data", "form"}


def validation_fields(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        name = _field_name(list(error.get("loc", [])), BODY_PARAMS)
        message = str(error.get("msg", ""))
        kind = str(error.get("type", ""))
        if kind == "value_error" and message.startswith("Value error, "):
            # Our own validators (api.schemas) raise translated messages.
            text = message.removeprefix("Value error, ")
        else:
            text = _message_for(kind, error.get("ctx") or {})
        fields.setdefault(name, []).append(text)
    return fields


def django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            name: [str(m) for m in DjangoValidationError(errs).messages]
            for name, errs in exc.error_dict.items()
        }
    code = getattr(exc, "code", None)
    return {code: list(exc.messages)} if code else {}


def install(api: NinjaAPI) -> None:
    @api.exception_handler(SignFlowError)
    def signflow_error(_request: HttpRequest, exc: SignFlowError) -> HttpResponse:
        response = JsonResponse(exc.as_json(), status=exc.status)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(NinjaValidationError)
    def invalid_input(_request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return error_response(
            "invalid",
            _("Some information is missing or wrong."),
            400,
            validation_fields(exc.errors),
        )

    @api.exception_handler(DjangoValidationError)
    def invalid_for_service(_request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return error_response("invalid", " ".join(exc.messages), 400, django_validation_fields(exc))

    @api.exception_handler(StorageUnavailable)
    def storage_unavailable(request: HttpRequest, exc: StorageUnavailable) -> HttpResponse:
        logger.error("The file storage failed on %s %s: %s", request.method, request.path, exc)
        response = error_response(
            "storage_unavailable",
            _("The file storage cannot be reached right now. Try again in a minute."),
            503,
        )
        response["Retry-After"] = "60"
        return response

    @api.exception_handler(AuthenticationError)
    def unauthenticated(_request: HttpRequest, _exc: AuthenticationError) -> HttpResponse:
        response = error_response(
            "unauthenticated",
            _("Send a valid, unrevoked API key as “Authorization: Bearer <key>”."),
            401,
        )
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(Http404)
    def not_found(_request: HttpRequest, _exc: Http404) -> HttpResponse:
        return error_response("not_found", _("Not found, or not yours to see."), 404)

    @api.exception_handler(PermissionDenied)
    def forbidden(_request: HttpRequest, _exc: PermissionDenied) -> HttpResponse:
        return error_response("forbidden", _("You may not do this."), 403)

    @api.exception_handler(HttpError)
    def http_error(_request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "invalid", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return error_response(codes.get(exc.status_code, "error"), exc.message, exc.status_code)
