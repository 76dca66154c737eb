"""The one error hierarchy: a rule a person can fix was broken.

Every service raises a subclass of `SignFlowError` for problems the person in front of the page
(or the API client) can act on. `code` is stable (tests, the JSON API and logs match on it),
`message` is translated text for a person, `fields` maps a form field (or API field) to its
own messages when the problem belongs to one input. Views show `message` next to the field
named in `fields` or at the top; the JSON API returns
`{"error": {"code": ..., "message": ..., "fields": {...}}}` (see `as_json`). Anything else that
escapes a service is a bug, and gets the 500 page.
"""

from __future__ import annotations

from typing import Any


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
