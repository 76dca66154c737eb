"""The one exception the documents app raises for problems a person can fix."""

from typing import Any

from signflow.errors import Conflict, SignFlowError


class DocumentError(SignFlowError):
    """A document could not be created, rendered or changed.

    `.message` is translated, user-facing text: views show it on the page as is. Services raise
    this (never a bare ValidationError) for bad uploads, templates that fail to render and edits
    of locked documents; anything else escaping a service is a bug.
    """

    default_code = "document_invalid"

    def __init__(
        self,
        message: Any,
        code: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(code, message, fields=fields)


class DocumentConflict(DocumentError, Conflict):
    """The document's or template's state forbids the change (sent for signature, built in,
    changed meanwhile): a DocumentError for the pages, a 409 for the JSON API."""
