"""Typed requests for views, so that `request.user` and `request.htmx` need no `# type: ignore`.

Django's `HttpRequest.user` is `User | AnonymousUser`; behind `login_required` it is always a
`User`. django-htmx's middleware adds `request.htmx` at run time, which the stubs cannot see.
A view annotates its `request` with one of these classes (as healthchecks does in
hc/accounts/http.py); nothing is checked at run time, the middleware and the decorator are what
make the annotation true.
"""

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """Any request that went through django_htmx.middleware.HtmxMiddleware (all of them)."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """A request of a logged-in user: the view is behind `login_required` (or an API key check
    that sets the user)."""

    user: User
