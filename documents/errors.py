"""The one exception the documents app raises for problems a person can fix."""


class DocumentError(Exception):
    """A document could not be created, rendered or changed.

    `.message` is translated, user-facing text: views show it on the page as is. Services raise
    this (never a bare ValidationError) for bad uploads, templates that fail to render and edits
    of locked documents; anything else escaping a service is a bug.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)
