"""The Kanban board of envelopes and the manager's oversight pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from signing import access, selectors


@login_required
def board(request: HttpRequest) -> HttpResponse:
    columns = selectors.board_columns(user=request.user, params=request.GET)
    context = {"columns": columns, "is_manager": access.is_manager(request.user)}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "signing/board.html#columns", context)
    return render(request, "signing/board.html", context)
