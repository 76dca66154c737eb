"""Every error of the API as `{"error": {"code", "message", "fields"}}`, with a stable code.

Services raise `signflow.errors.SignFlowError` subclasses (SigningError, DocumentError, CRM
errors, Conflict for a state that forbids the call: 409); ninja raises its own for bad input and
missing keys. Each is turned into a SignFlowError and answered by `signflow_response`; a file
storage outage is a 503 `storage_unavailable`; anything else is a bug and stays a 500.
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
from signflow.errors import NotAllowed, NotFound, SignFlowError
from signflow.storage import StorageUnavailable

logger = logging.getLogger(__name__)


def error_response(
    code: str, message: str, status: int, fields: dict[str, list[str]] | None = None
) -> JsonResponse:
    return signflow_response(SignFlowError(code, message, fields=fields), status=status)


def signflow_response(exc: SignFlowError, *, status: int | None = None) -> JsonResponse:
    """The one JSON shape of every API error, from the one error hierarchy."""
    response = JsonResponse(exc.as_json(), status=status or exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


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


def install(api: NinjaAPI) -> None:
    """Every error the API can meet becomes a SignFlowError, answered by `signflow_response`."""

    @api.exception_handler(SignFlowError)
    def signflow_error(_request: HttpRequest, exc: SignFlowError) -> HttpResponse:
        return signflow_response(exc)

    @api.exception_handler(NinjaValidationError)
    def invalid_input(_request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        message = _("Some information is missing or wrong.")
        return signflow_response(
            SignFlowError("invalid", message, fields=validation_fields(exc.errors))
        )

    @api.exception_handler(DjangoValidationError)
    def invalid_for_service(_request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        # A validator outside a service's own checks (services convert theirs themselves).
        return signflow_response(SignFlowError.from_validation_error(exc))

    @api.exception_handler(StorageUnavailable)
    def storage_unavailable(request: HttpRequest, exc: StorageUnavailable) -> HttpResponse:
        logger.error("The file storage failed on %s %s: %s", request.method, request.path, exc)
        message = _("The file storage cannot be reached right now. Try again in a minute.")
        response = signflow_response(SignFlowError("storage_unavailable", message), status=503)
        response["Retry-After"] = "60"
        return response

    @api.exception_handler(AuthenticationError)
    def unauthenticated(_request: HttpRequest, _exc: AuthenticationError) -> HttpResponse:
        message = _("Send a valid, unrevoked API key as “Authorization: Bearer <key>”.")
        response = signflow_response(SignFlowError("unauthenticated", message), status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(Http404)
    def not_found(_request: HttpRequest, _exc: Http404) -> HttpResponse:
        return signflow_response(NotFound(message=_("Not found, or not yours to see.")))

    @api.exception_handler(PermissionDenied)
    def forbidden(_request: HttpRequest, _exc: PermissionDenied) -> HttpResponse:
        return signflow_response(NotAllowed(message=_("You may not do this.")))

    @api.exception_handler(HttpError)
    def http_error(_request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "invalid", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        error = SignFlowError(codes.get(exc.status_code, "error"), exc.message)
        return signflow_response(error, status=exc.status_code)
