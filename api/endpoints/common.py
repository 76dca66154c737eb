"""What the endpoints share: the caller, form errors as API errors, 404 for what is not yours."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.forms import BaseForm
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import Field

from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from signflow.errors import SignFlowError


def caller(request: HttpRequest) -> User:
    """The key's employee (api.auth put it on the request)."""
    user = request.user
    assert isinstance(user, User)
    return user


def attrs(obj: object, *names: str) -> dict[str, Any]:
    """`obj`'s attributes by name, for an endpoint's output (`id` reads the primary key)."""
    return {name: getattr(obj, "pk" if name == "id" else name) for name in names}


def require(allowed: bool) -> None:
    # Not found rather than forbidden, as on the pages: nothing says the object exists.
    if not allowed:
        raise Http404


def form_error(form: BaseForm, rename: dict[str, str] | None = None) -> SignFlowError:
    """A page form's errors, under the API's field names (`rename`: form name -> API name)."""
    rename = rename or {}
    fields = {
        rename.get(name, name): [str(message) for message in messages]
        for name, messages in form.errors.items()
    }
    return SignFlowError("invalid", _("Some information is missing or wrong."), fields=fields)


class PageQuery(Schema):
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


def changed(payload: Schema) -> dict[str, Any]:
    """The fields a PATCH body gave (None means unchanged)."""
    return {name: value for name, value in payload.model_dump().items() if value is not None}
