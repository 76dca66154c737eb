"""The outcome of a service call, flashed for the page a POST view redirects to."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest

from signflow.errors import SignFlowError


def flash_outcome(
    request: HttpRequest,
    action: Callable[[], object],
    success: str,
    *,
    level: int = messages.SUCCESS,
) -> bool:
    """Run `action` (a service call): a broken rule (`SignFlowError`) becomes an error message,
    otherwise `success` is shown at `level`. True when the action went through."""
    try:
        action()
    except SignFlowError as exc:
        messages.error(request, exc.message)
        return False
    messages.add_message(request, level, success)
    return True
