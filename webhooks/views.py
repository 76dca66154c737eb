"""Webhook pages for managers. Thin: access from webhooks.access, writes in webhooks.services."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from signflow.errors import SignFlowError
from signflow.flash import flash_outcome
from signflow.http import AuthenticatedHttpRequest
from webhooks import access, services
from webhooks.events import EVENT_TYPES
from webhooks.forms import EndpointForm
from webhooks.models import Endpoint, WebhookDelivery

LOG_PAGE = 50


def _require_manager(request: AuthenticatedHttpRequest) -> None:
    if not access.can_manage_webhooks(request.user):
        raise PermissionDenied


def _endpoint(request: AuthenticatedHttpRequest, endpoint_id: int) -> Endpoint:
    _require_manager(request)
    return get_object_or_404(Endpoint.objects.live(), pk=endpoint_id)


def _save(
    request: AuthenticatedHttpRequest, form: EndpointForm, endpoint: Endpoint | None
) -> Endpoint | None:
    """Call the service; its refusal goes on the form, next to the field it names."""
    data = form.cleaned_data
    try:
        if endpoint is None:
            return services.endpoint_create(
                url=data["url"],
                events=data["events"],
                description=data["description"],
                actor=request.user,
            )
        return services.endpoint_update(
            endpoint=endpoint,
            url=data["url"],
            events=data["events"],
            description=data["description"],
        )
    except SignFlowError as exc:
        if not exc.fields:
            form.add_error(None, exc.message)
        for name, errors in (exc.fields or {}).items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
    return None


@login_required
def endpoint_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_manager(request)
    endpoints = Endpoint.objects.live()
    return render(request, "webhooks/endpoint_list.html", {"endpoints": endpoints})


@login_required
def endpoint_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_manager(request)
    form = EndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        endpoint = _save(request, form, None)
        if endpoint is not None:
            messages.success(request, _("Endpoint added. Give its signing secret to the receiver."))
            return redirect("webhooks:endpoint_detail", endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": None})


@login_required
def endpoint_edit(request: AuthenticatedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = EndpointForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, endpoint):
        messages.success(request, _("Endpoint saved."))
        return redirect("webhooks:endpoint_detail", endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": endpoint})


def _before(request: AuthenticatedHttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@login_required
def endpoint_detail(request: AuthenticatedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    deliveries = endpoint.deliveries.select_related("envelope").order_by("-id")
    status = request.GET.get("status", "")
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    before = _before(request)
    if before is not None:
        deliveries = deliveries.filter(pk__lt=before)
    page = list(deliveries[: LOG_PAGE + 1])
    context: dict[str, Any] = {
        "endpoint": endpoint,
        "event_labels": [EVENT_TYPES.get(name, name) for name in endpoint.events],
        "deliveries": page[:LOG_PAGE],
        "older": page[LOG_PAGE - 1].pk if len(page) > LOG_PAGE else None,
        "status": status if status in WebhookDelivery.Status.values else "",
        "statuses": WebhookDelivery.Status.choices,
        "previous_secret_active": len(services.signing_secrets(endpoint)) > 1,
    }
    return render(request, "webhooks/endpoint_detail.html", context)


@login_required
@require_POST
def endpoint_rotate(request: AuthenticatedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_rotate_secret(endpoint=endpoint)
    messages.success(
        request,
        _("New signing secret. The previous one also signs for 24 hours: update the receiver."),
    )
    return redirect("webhooks:endpoint_detail", endpoint.pk)


@login_required
@require_POST
def endpoint_active(request: AuthenticatedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    active = request.POST.get("active") == "1"
    services.endpoint_set_active(endpoint=endpoint, active=active)
    messages.success(request, _("Endpoint enabled.") if active else _("Endpoint disabled."))
    return redirect("webhooks:endpoint_detail", endpoint.pk)


@login_required
@require_POST
def endpoint_delete(request: AuthenticatedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, _("Endpoint deleted."))
    return redirect("webhooks:endpoint_list")


@login_required
@require_POST
def endpoint_test(request: AuthenticatedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_send_test(endpoint=endpoint)
    messages.success(request, _("Test event queued: its delivery is at the top of the log."))
    return redirect("webhooks:endpoint_detail", endpoint.pk)


def _delivery(
    request: AuthenticatedHttpRequest, endpoint_id: int, delivery_id: int
) -> WebhookDelivery:
    endpoint = _endpoint(request, endpoint_id)
    return get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint", "envelope"),
        pk=delivery_id,
        endpoint=endpoint,
    )


@login_required
def delivery_detail(
    request: AuthenticatedHttpRequest, endpoint_id: int, delivery_id: int
) -> HttpResponse:
    delivery = _delivery(request, endpoint_id, delivery_id)
    return render(
        request,
        "webhooks/delivery_detail.html",
        {
            "delivery": delivery,
            "endpoint": delivery.endpoint,
            "tries": delivery.tries.all()[:100],
        },
    )


@login_required
@require_POST
def delivery_redeliver(
    request: AuthenticatedHttpRequest, endpoint_id: int, delivery_id: int
) -> HttpResponse:
    delivery = _delivery(request, endpoint_id, delivery_id)
    flash_outcome(
        request,
        lambda: services.delivery_redeliver(delivery=delivery),
        _("Delivery queued again, with the same webhook-id."),
    )
    return redirect("webhooks:endpoint_detail", delivery.endpoint_id)
