"""The API keys page: an employee lists, creates and revokes their own keys."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from api import keys
from api.forms import KeyForm
from api.models import ApiKey
from crm.access import employee_of
from signflow.errors import SignFlowError
from signflow.http import AuthenticatedHttpRequest
from signflow.net import client_ip


def _employee(request: AuthenticatedHttpRequest) -> User:
    if employee_of(request.user) is None:
        raise Http404
    return request.user


@never_cache
@login_required
def key_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = _employee(request)
    form = KeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, token = keys.key_create(
                owner=user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                ip=client_ip(request),
            )
        except SignFlowError as exc:
            form.add_error(None, exc.message)
        else:
            # Shown on this answer only: the database keeps its hash.
            created = {"key": key, "token": token}
            form = KeyForm()
    return render(
        request,
        "api/keys.html",
        {
            "form": form,
            "created": created,
            "keys": ApiKey.objects.filter(owner=user).prefetch_related("events"),
        },
        status=400 if request.method == "POST" and not created else 200,
    )


@require_POST
@login_required
def key_revoke(request: AuthenticatedHttpRequest, key_id: int) -> HttpResponse:
    user = _employee(request)
    # Someone else's key looks like a missing one.
    key = get_object_or_404(ApiKey, pk=key_id, owner=user)
    keys.key_revoke(key=key, actor=user, ip=client_ip(request))
    messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("api:keys")
