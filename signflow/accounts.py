"""Logging in: one throttle for every form that checks a password or a code, and two-step login.

- The throttle is django-axes (database handler, so it works without Redis): per client IP (as
  signflow.net vouches for it) and username, SIGNFLOW_LOGIN_MAX_FAILURES wrong passwords or
  codes lock that pair out for SIGNFLOW_LOGIN_LOCK_SECONDS, right password or not. It covers
  /login/, its code step and /admin/login/ (which is this same login form).
- Two-step login (django-otp, TOTP): an employee may turn it on from the two-step verification
  page; staff must have it before Django's admin opens (except without a device under DEBUG, so
  the demo manager can look around). Once on, the password alone no longer logs in: the login
  asks for the code of the authenticator app next.
"""

import base64
import binascii
import logging
import time
from datetime import timedelta
from typing import Any

import segno
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login

# Locks the device row while checking (select_for_update): two requests racing with the same
# code cannot both pass the "not used before" rule.
from django_otp import verify_token as otp_verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from signflow.http import AuthenticatedHttpRequest

logger = logging.getLogger(__name__)

# The session of someone who gave the right password and still owes a code.
PENDING_SESSION_KEY = "sf-login-pending"
# The secret shown on the two-step page until a first code confirms it.
ENROL_SESSION_KEY = "sf-2fa-enrol-key"
# Time allowed between the password and the code.
PENDING_SECONDS = 300


# --- The throttle (django-axes callables, named in settings) ---------------------------------


def login_failure_limit(_request: HttpRequest, _credentials: dict[str, Any] | None) -> int:
    return settings.SIGNFLOW_LOGIN_MAX_FAILURES


def login_lock_time(_request: HttpRequest | None = None) -> timedelta:
    return timedelta(seconds=settings.SIGNFLOW_LOGIN_LOCK_SECONDS)


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The username the throttle counts: the same account whatever the case typed."""
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username", "")
    return str(username).strip().lower()


def _lockout_message() -> str:
    minutes = max(1, settings.SIGNFLOW_LOGIN_LOCK_SECONDS // 60)
    return ngettext(
        "Too many failed attempts. Wait %(minutes)d minute and try again.",
        "Too many failed attempts. Wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest,
    _original_response: HttpResponse | None = None,
    _credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The login page with the lockout message, 429: the password or code was not checked."""
    request.session.pop(PENDING_SESSION_KEY, None)
    form = AuthenticationForm(request)
    form.cleaned_data = {}
    form.add_error(None, forms.ValidationError(_lockout_message(), code="locked_out"))
    context = {"form": form, "next": request.POST.get("next", request.GET.get("next", ""))}
    return render(request, "registration/login.html", context, status=429)


# --- Two-step devices --------------------------------------------------------------------------


def confirmed_device(user: Any) -> TOTPDevice | None:
    if not getattr(user, "pk", None):
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def two_factor_satisfied(request: HttpRequest) -> bool:
    """Staff reach the admin once this session passed a second factor (DEBUG: or has none)."""
    user = request.user
    # is_verified() is installed on request.user by django-otp's OTPMiddleware.
    if getattr(user, "is_verified", lambda: False)():
        return True
    return settings.DEBUG and confirmed_device(user) is None


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(
                _("Enter the 6 digits shown by your authenticator app."), code="format"
            )
        return code


# --- Login -------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login; a user with a confirmed device is asked for the code next."""

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if confirmed_device(user) is None:
            return super().form_valid(form)
        self.request.session[PENDING_SESSION_KEY] = {
            "user": user.pk,
            "backend": getattr(user, "backend", ""),
            "next": self.get_success_url(),
            "at": time.time(),
        }
        return redirect("login_code")


class AdminLoginView(LoginView):
    authentication_form = AdminAuthenticationForm

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")


def _pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return user, pending


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of a login: the current code of the user's authenticator app."""
    found = _pending_user(request)
    if found is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        if request.method == "POST":
            messages.error(request, _("The login took too long. Enter your password again."))
        return redirect("login")
    user, pending = found
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        credentials = {"username": user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            return lockout_response(request, None, credentials)
        device = confirmed_device(user)
        if device is None:  # turned off in the meantime: the password was enough
            return _finish_login(request, user, pending, None)
        if form.is_valid():
            if not device.verify_is_allowed()[0]:
                form.add_error(
                    "code",
                    _("Several wrong codes in a row: wait a few seconds, then try again."),
                )
            elif verified := otp_verify_token(
                user, device.persistent_id, form.cleaned_data["code"]
            ):
                return _finish_login(request, user, pending, verified)
            else:
                form.add_error("code", _("This code is not right. Enter the current code."))
                # Counted by the same throttle as wrong passwords (django-axes listens).
                user_login_failed.send(sender=__name__, credentials=credentials, request=request)
                if getattr(request, "axes_locked_out", False):
                    return lockout_response(request, None, credentials)
    return render(request, "registration/login_code.html", {"form": form})


def _finish_login(
    request: HttpRequest, user: Any, pending: dict[str, Any], device: TOTPDevice | None
) -> HttpResponse:
    request.session.pop(PENDING_SESSION_KEY, None)
    auth_login(request, user, backend=pending.get("backend") or None)
    if device is not None:
        otp_login(request, device)
    return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)


# --- Two-step verification settings ------------------------------------------------------------


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _enrolment(request: AuthenticatedHttpRequest) -> dict[str, Any]:
    key = request.session.get(ENROL_SESSION_KEY)
    if not isinstance(key, str):
        key = default_key()
        request.session[ENROL_SESSION_KEY] = key
    device = TOTPDevice(user=request.user, key=key, name="SignFlow")
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return {
        "key": key,
        "qr_svg": segno.make(device.config_url, error="m").svg_data_uri(scale=4, border=2),
        "secret": _grouped(secret),
    }


def _audit(*, user: Any, message: str) -> None:
    """The account's history in Django's admin (LogEntry): who changed their second factor."""
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[user], action_flag=CHANGE, change_message=message
    )


def two_factor_enable(*, user: Any, key: str, code: str) -> TOTPDevice | None:
    """A confirmed device for `key` when `code` is its current code, else None."""
    totp = TOTP(binascii.unhexlify(key.encode()))
    if not totp.verify(int(code), tolerance=1):
        return None
    with transaction.atomic():
        # last_t: the code just typed cannot be used again to log in.
        device = TOTPDevice.objects.create(
            user=user, name="SignFlow", key=key, confirmed=True, last_t=totp.t()
        )
        _audit(user=user, message="Two-step login turned on")
    return device


def two_factor_disable(*, user: Any) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        _audit(user=user, message="Two-step login turned off")


@login_required
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Turn two-step login on (scan, then confirm a code) or off (with a current code)."""
    device = confirmed_device(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        if device is None:
            key = request.session.get(ENROL_SESSION_KEY)
            new_device = (
                two_factor_enable(user=request.user, key=key, code=code)
                if isinstance(key, str)
                else None
            )
            if new_device is not None:
                request.session.pop(ENROL_SESSION_KEY, None)
                otp_login(request, new_device)
                logger.info("two-step login turned on for user %s", request.user.pk)
                messages.success(request, _("Two-step login is on."))
                return redirect("two_factor")
            form.add_error(
                "code", _("This code is not right. Check the time on your phone and try again.")
            )
        elif not device.verify_is_allowed()[0]:
            form.add_error(
                "code", _("Several wrong codes in a row: wait a few seconds, then try again.")
            )
        elif otp_verify_token(request.user, device.persistent_id, code):
            two_factor_disable(user=request.user)
            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            logger.info("two-step login turned off for user %s", request.user.pk)
            messages.success(request, _("Two-step login is off."))
            return redirect("two_factor")
        else:
            form.add_error("code", _("This code is not right. Enter the current code."))
    context: dict[str, Any] = {
        "form": form,
        "device": device,
        "staff_required": request.user.is_staff,
    }
    if device is None:
        context.update(_enrolment(request))
    return render(request, "registration/two_factor.html", context)


# --- Django's admin ----------------------------------------------------------------------------


class SignFlowAdminSite(admin.AdminSite):
    """Django's admin behind SignFlow's login (same throttle, same code step); staff must have
    passed a second factor in this session."""

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor_satisfied(request)

    def login(self, request: HttpRequest, _extra_context: dict[str, Any] | None = None) -> Any:
        user = request.user
        if user.is_active and user.is_staff and not two_factor_satisfied(request):
            if confirmed_device(user) is not None:
                # Logged in without the code (before enrolling on another device, say).
                auth_logout(request)
                query = urlencode({"next": reverse("admin:index")})
                return redirect(f"{reverse('login')}?{query}")
            messages.warning(
                request,
                _("Turn on two-step login before opening the administration site."),
            )
            return redirect("two_factor")
        return AdminLoginView.as_view()(request)
