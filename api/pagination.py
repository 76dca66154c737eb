"""Cursor pagination: newest first, keyed on the id, so pages hold steady while rows are added."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from api.schemas import MAX_ID
from signflow.errors import SignFlowError

M = TypeVar("M", bound=Model)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _sep, number = text.partition(":")
        value = int(number)
        if kind != "id" or not 0 < value <= MAX_ID:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SignFlowError(
            "invalid",
            _("This cursor is not one we gave."),
            fields={"cursor": [_("Pass the next_cursor of the previous page as it was.")]},
        ) from None
    return value


def paginate(qs: QuerySet[M], *, cursor: str | None, limit: int) -> tuple[list[M], Any]:
    """One page of `qs` (newest first) and the cursor of the next one, or None."""
    qs = qs.order_by("-id")
    if cursor:
        qs = qs.filter(id__lt=decode_cursor(cursor))
    rows = list(qs[: limit + 1])
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].pk)
    return rows, None


class PageParams(Protocol):
    cursor: str | None
    limit: int


def page_of(
    qs: QuerySet[M], page: PageParams, out: Callable[[M], dict[str, Any]]
) -> dict[str, Any]:
    """A list endpoint's answer: one page of `qs` as `out` shows each row, and the next cursor."""
    rows, cursor = paginate(qs, cursor=page.cursor, limit=page.limit)
    return {"items": [out(row) for row in rows], "next_cursor": cursor}
