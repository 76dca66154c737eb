"""Who calls the API: `Authorization: Bearer <key>`, the key's scopes, and its rate limit.

A key acts as its employee: `request.user` becomes the key's owner, and every endpoint asks the
access modules (crm.access, documents.access, signing.access) exactly as the pages do.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from api.keys import key_for_token
from api.models import ApiKey
from signflow.errors import NotAllowed, SignFlowError
from verification.ratelimit import count_in_window


class ApiHttpRequest(HttpRequest):
    """What this module keeps on a request of the JSON API (api.calls reads `_api_key`)."""

    _api_key: ApiKey | None
    _api_counted: bool


def _api_request(request: HttpRequest) -> ApiHttpRequest:
    # Django Ninja hands every callable a plain HttpRequest; the attributes above are set here.
    return cast(ApiHttpRequest, request)


def request_key(request: HttpRequest) -> ApiKey | None:
    """The key of this request (looked up once, then kept on the request)."""
    api_request = _api_request(request)
    if not hasattr(api_request, "_api_key"):
        header = request.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        key = key_for_token(token.strip()) if scheme.lower() == "bearer" else None
        api_request._api_key = key
        if key is not None:
            request.user = key.owner
    return api_request._api_key


class RateLimited(SignFlowError):
    default_code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            message=_("Too many requests with this API key. Try again in %(seconds)d s.")
            % {"seconds": retry_after}
        )
        self.retry_after = retry_after


def _check_rate(request: HttpRequest, key: ApiKey) -> None:
    """SIGNFLOW_API_RATE_PER_MINUTE requests per key and minute, counted once per request
    (fixed window in the cache; with Redis unreachable the limit fails open, as verification's)."""
    api_request = _api_request(request)
    if getattr(api_request, "_api_counted", False):
        return
    api_request._api_counted = True
    count, left = count_in_window(f"api:{key.pk}")
    if count > settings.SIGNFLOW_API_RATE_PER_MINUTE:
        raise RateLimited(left)


class KeyAuth(HttpBearer):
    """A valid key holding `scope`; a valid key without it is refused with 403."""

    openapi_scheme = "bearer"

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        key = request_key(request)
        if key is None:
            return None  # ninja answers 401 (api.errors)
        _check_rate(request, key)
        if self.scope not in key.scopes:
            raise NotAllowed(
                "scope_missing",
                _("This API key lacks the “%(scope)s” scope.") % {"scope": self.scope},
            )
        return key

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover
        raise NotImplementedError  # __call__ does the whole job


READ = KeyAuth(ApiKey.Scope.READ)
SEND = KeyAuth(ApiKey.Scope.SEND)
TEMPLATES = KeyAuth(ApiKey.Scope.TEMPLATES)
