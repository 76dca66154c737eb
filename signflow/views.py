import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import ngettext

from signflow import net


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("signing:board")
    return redirect("login")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _login_failures_key(request: HttpRequest) -> str:
    username = str(request.POST.get("username", "")).strip().lower()
    digest = hashlib.sha256(f"{net.client_ip(request)}\n{username}".encode()).hexdigest()
    return f"sf-login-failures:{digest}"


class _LockedOutForm(AuthenticationForm):
    """The login form of a locked-out pair: refused without checking the password."""

    def clean(self) -> dict[str, Any]:
        minutes = max(1, settings.SIGNFLOW_LOGIN_LOCK_SECONDS // 60)
        raise ValidationError(
            ngettext(
                "Too many failed attempts. Wait %(minutes)d minute and try again.",
                "Too many failed attempts. Wait %(minutes)d minutes and try again.",
                minutes,
            )
            % {"minutes": minutes},
            code="locked_out",
        )


class LoginView(auth_views.LoginView):
    """Django's login, throttled per client IP and username: after SIGNFLOW_LOGIN_MAX_FAILURES
    wrong passwords the pair is refused for SIGNFLOW_LOGIN_LOCK_SECONDS, right password or not,
    so that a password cannot be guessed by brute force."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if cache.get(_login_failures_key(request), 0) >= settings.SIGNFLOW_LOGIN_MAX_FAILURES:
            form = _LockedOutForm(request, data=request.POST)
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        key = _login_failures_key(self.request)
        timeout = settings.SIGNFLOW_LOGIN_LOCK_SECONDS
        # add() then incr(): two failures at the same moment both count.
        cache.add(key, 0, timeout=timeout)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        cache.delete(_login_failures_key(self.request))
        return super().form_valid(form)
