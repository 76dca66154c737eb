"""The one error hierarchy: a rule a person can fix was broken.

Every service raises a subclass of `SignFlowError` for problems the person in front of the page
(or the API client) can act on. `code` is stable (tests, the JSON API and logs match on it),
`message` is translated text for a person, `fields` maps a form field (or API field) to its
own messages when the problem belongs to one input. Views show `message` next to the field
named in `fields` or at the top; the JSON API returns
`{"error": {"code": ..., "message": ..., "fields": {...}}}` (see `as_json`) with `status`
(api.errors maps the whole hierarchy once). A rule about the object's state (already sent, not
a draft, not failed) raises a `Conflict` subclass: 409 in the API. Django's ValidationError from
`full_clean` or a validator is converted at the service's edge (`from_validation_error`), so
callers catch one thing. Anything else that escapes a service is a bug, and gets the 500 page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class SignFlowError(Exception):
    """A broken rule with a stable code and a translatable message."""

    default_code = "invalid"
    status = 400  # the HTTP status the JSON API answers with

    def __init__(
        self,
        code: str | None = None,
        message: Any = "",
        *,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = str(message)
        self.fields = {name: [str(m) for m in msgs] for name, msgs in (fields or {}).items()}
        super().__init__(self.message)

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}

    @classmethod
    def for_field(cls, field: str, message: Any, code: str | None = None) -> SignFlowError:
        """A problem of one input: its code is the field's name unless given."""
        return cls(code or field, message, fields={field: [str(message)]})

    @classmethod
    def from_validation_error(
        cls, exc: ValidationError, *, code: str = "invalid", field: str | None = None
    ) -> SignFlowError:
        """Django's model or validator error in the one hierarchy: per-field messages from
        `full_clean`, or all of them on `field` when the caller knows which input it was."""
        if hasattr(exc, "error_dict"):
            fields = {name: list(messages) for name, messages in exc.message_dict.items()}
        else:
            fields = {field: list(exc.messages)} if field else {}
        return cls(code, " ".join(exc.messages), fields=fields)


class NotAllowed(SignFlowError):
    """The actor may not do this (a 403 for the JSON API)."""

    default_code = "forbidden"
    status = 403


class NotFound(SignFlowError):
    default_code = "not_found"
    status = 404


class Conflict(SignFlowError):
    """The object's state forbids it now (already signed, already sent, locked...)."""

    default_code = "conflict"
    status = 409
