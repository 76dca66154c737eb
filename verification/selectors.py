"""Reads on the registry."""

from __future__ import annotations

from verification.models import SealedDocument
from verification.services import CODE_RE


def sealed_by_code(code: str) -> SealedDocument | None:
    code = code.strip().upper()
    if not CODE_RE.match(code):
        return None
    return SealedDocument.objects.filter(code=code).first()
