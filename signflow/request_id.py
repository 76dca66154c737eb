"""Answers carry the id their log lines carry (`X-Request-ID`), so a person reporting a problem
can give the one id that finds every line of that request and of the tasks it queued."""

from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse


def request_id_header(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """After django-structlog's RequestMiddleware, which binds `request_id` for the request."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            response["X-Request-ID"] = str(request_id)
        return response

    return middleware
