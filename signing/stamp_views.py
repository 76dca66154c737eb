"""A manager's page for one of our companies' stamps, and whether clients are asked for theirs.

It lives in `signing` (not `crm`) because the upload is cleaned by signing.images and crm
imports no other app (DESIGN.md); access is crm.access.can_manage_companies.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import access as crm_access
from crm.models import OwnCompany
from signflow.http import AuthenticatedHttpRequest
from signing import images, stamps


def _company(request: AuthenticatedHttpRequest, company_id: int) -> OwnCompany:
    if not crm_access.can_manage_companies(request.user):
        raise Http404
    return get_object_or_404(OwnCompany, pk=company_id)


@login_required
def company_stamp(request: AuthenticatedHttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("stamp")
        if upload is None:
            error = _("Choose an image of the stamp.")
        elif upload.size and upload.size > images.max_bytes():
            error = images.too_large().message
        else:
            try:
                stamps.company_stamp_set(company=company, data=upload.read())
            except images.ImageError as exc:
                error = exc.message
            else:
                messages.success(request, _("The stamp is saved. Its background was removed."))
                return redirect("signing:company_stamp", company_id=company.pk)
    return render(
        request,
        "signing/company_stamp.html",
        {"company": company, "error": error},
        status=400 if error else 200,
    )


@login_required
@require_POST
def company_stamp_remove(request: AuthenticatedHttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    stamps.company_stamp_remove(company=company)
    messages.success(request, _("The stamp was removed."))
    return redirect("signing:company_stamp", company_id=company.pk)


@login_required
@require_POST
def company_client_stamp(request: AuthenticatedHttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    ask = request.POST.get("ask_client_stamp") in {"1", "on", "true"}
    stamps.company_client_stamp_set(company=company, ask=ask)
    messages.success(request, _("Saved."))
    return redirect("signing:company_stamp", company_id=company.pk)


@login_required
def company_stamp_image(request: AuthenticatedHttpRequest, company_id: int) -> HttpResponse:
    """The stored stamp, for the managers' page (the storage is never public)."""
    company = _company(request, company_id)
    if not company.default_stamp:
        raise Http404
    return stamps.stamp_image_response(company.default_stamp)
