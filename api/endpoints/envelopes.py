"""Envelopes: create (with the plan to send it), send, read, list, remind, cancel, correct a
contact, download the sealed PDF and its certificate of completion.

Every state change is a signing service (imported from `signing.services`, its public face);
who may see or act is signing.access (and documents.access for the document to send).
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router
from ninja.responses import Status

from api import auth
from api.endpoints.common import PageQuery, attrs, caller, require
from api.endpoints.documents import field_out
from api.models import SendPlan
from api.pagination import page_of
from api.schemas import (
    ERRORS,
    CancelIn,
    CorrectIn,
    EnvelopeIn,
    EnvelopeOut,
    EnvelopePage,
    PartyIn,
)
from documents import access as document_access
from documents.models import Document
from signflow.errors import Conflict, SignFlowError
from signing import access, selectors, services
from signing.models import Envelope, FieldValue, Party

router = Router(tags=["Envelopes"])


def _visible(request: HttpRequest, envelope_id: int) -> Envelope:
    envelope = get_object_or_404(
        Envelope.objects.select_related("document", "sealed", "api_plan"), pk=envelope_id
    )
    require(access.can_view_envelope(caller(request), envelope))
    return envelope


def _actionable(request: HttpRequest, envelope_id: int) -> Envelope:
    envelope = _visible(request, envelope_id)
    require(access.can_act_on_envelope(caller(request), envelope))
    return envelope


def summary_out(envelope: Envelope) -> dict[str, Any]:
    return attrs(
        envelope,
        *("id", "public_id", "title", "status", "language", "document_id", "deal_id"),
        *("counterparty_id", "responsible_id", "amount", "currency", "deadline", "created_at"),
        *("sent_at", "status_changed_at", "completed_at"),
    )


def _party_out(party: Party) -> dict[str, Any]:
    return attrs(
        party,
        *("id", "order", "role", "name", "email", "phone", "channel", "is_company", "status"),
        *("opened_at", "signed_at", "declined_at", "decline_reason"),
    )


def _planned_parties(plan: SendPlan | None) -> list[dict[str, Any]]:
    if plan is None:
        return []
    return [
        {**party, "id": None, "order": order, "status": "planned"}
        for order, party in enumerate(plan.parties, start=1)
    ]


def envelope_out(envelope: Envelope) -> dict[str, Any]:
    plan = getattr(envelope, "api_plan", None)
    values = {
        value.field_id: value.method
        for value in FieldValue.objects.filter(field__document_id=envelope.document_id)
    }
    sealed = None
    if envelope.sealed_id and envelope.sealed is not None:
        sealed = {
            "code": envelope.sealed.code,
            "sha256": envelope.sealed.sha256,
            "sealed_at": envelope.sealed.sealed_at,
            "pdf_url": reverse("api_v1:envelope_sealed_pdf", args=[envelope.pk]),
            "certificate_url": reverse("api_v1:envelope_certificate", args=[envelope.pk]),
        }
    parties = [_party_out(p) for p in envelope.parties.order_by("order")]
    return {
        **summary_out(envelope),
        "reminder_every_days": plan.reminder_every_days
        if plan and not parties
        else envelope.reminder_every_days,
        "reminder_max": plan.reminder_max if plan and not parties else envelope.reminder_max,
        "reminders_sent": envelope.reminders_sent,
        "message": plan.note if plan and not parties else envelope.note,
        "closed_reason": envelope.closed_reason,
        "parties": parties or _planned_parties(plan),
        "fields": [
            field_out(f, filled=f.pk in values, method=values.get(f.pk, ""))
            for f in envelope.document.fields.all()
        ],
        "messages": [
            {
                "id": m.pk,
                "party_id": m.party_id,
                "channel": m.channel,
                "recipient": m.recipient,
                "template": m.template,
                "status": m.status,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
            }
            for m in envelope.messages.order_by("id")
        ],
        "events": [
            {
                "id": e.pk,
                "type": e.type,
                "party_id": e.party_id,
                "actor_id": e.actor_id,
                "created_at": e.created_at,
                "data": e.data,
                "hash": e.hash,
            }
            for e in envelope.events.order_by("id")
        ],
        "sealed": sealed,
    }


def _party_errors(parties: list[PartyIn]) -> dict[str, list[str]]:
    """The send screen's party rules (signing.services.validate_party_input), by API field."""
    fields: dict[str, list[str]] = {}
    for index, party in enumerate(parties):
        data = services.PartyInput(**party.model_dump())
        for name, message in services.validate_party_input(data).items():
            fields[f"parties.{index}.{name}"] = [str(message)]
        party.email, party.phone = data.email, data.phone
    return fields


def _send(envelope: Envelope, plan: SendPlan, request: HttpRequest) -> None:
    deadline = plan.deadline or timezone.now() + timedelta(days=settings.SIGNFLOW_LINK_DEFAULT_DAYS)
    try:
        services.envelope_send(
            envelope=envelope,
            actor=caller(request),
            parties=[services.PartyInput(**party) for party in plan.parties],
            language=plan.language,
            deadline=deadline,
            reminder_every_days=plan.reminder_every_days,
            reminder_max=plan.reminder_max,
            note=plan.note,
            require_client_stamp=plan.require_client_stamp,
        )
    except services.SendValidationError as exc:
        fields: dict[str, list[str]] = {}
        for key, value in exc.errors.items():
            if key.startswith("party-") and isinstance(value, dict):
                index = key.removeprefix("party-")
                for name, message in value.items():
                    fields[f"parties.{index}.{name}"] = [str(message)]
            else:
                fields[key] = [str(value)]
        raise SignFlowError(exc.code, exc.message, fields=fields) from exc


@router.post("/envelopes", response={201: EnvelopeOut, **ERRORS}, auth=auth.SEND)
def envelope_create(request: HttpRequest, payload: EnvelopeIn) -> Any:
    """A draft envelope for a document, with its ordered parties and sending options; with
    `"send": true` it is sent at once."""
    user = caller(request)
    document = get_object_or_404(Document, pk=payload.document_id)
    require(document_access.can_view_document(user, document))
    existing = Envelope.objects.filter(document=document).first()
    if existing is not None:
        require(access.can_act_on_envelope(user, existing))
    else:
        require(access.can_start_envelope(user, document))
    if existing is not None and existing.status != Envelope.Status.DRAFT or document.locked:
        raise Conflict("already_sent", _("This document has already been sent."))
    errors = _party_errors(payload.parties)
    if errors:
        raise SignFlowError("invalid", _("Some information is missing or wrong."), fields=errors)
    envelope = services.envelope_for_document(document=document, actor=user)
    plan, _created = SendPlan.objects.update_or_create(
        envelope=envelope,
        defaults={
            "parties": [party.model_dump() for party in payload.parties],
            "language": payload.language,
            "deadline": payload.deadline,
            "reminder_every_days": payload.reminder_every_days,
            "reminder_max": payload.reminder_max,
            "note": payload.message,
            "require_client_stamp": payload.require_client_stamp,
        },
    )
    if payload.send:
        _send(envelope, plan, request)
    return Status(201, envelope_out(_visible(request, envelope.pk)))


@router.post(
    "/envelopes/{int:envelope_id}/send", response={200: EnvelopeOut, **ERRORS}, auth=auth.SEND
)
def envelope_send(request: HttpRequest, envelope_id: int) -> Any:
    envelope = _actionable(request, envelope_id)
    plan = SendPlan.objects.filter(envelope=envelope).first()
    if envelope.status != Envelope.Status.DRAFT:
        raise Conflict("already_sent", _("This document has already been sent."))
    if plan is None:
        raise Conflict(
            "no_plan",
            _("This draft has no parties yet: create it with POST /api/v1/envelopes."),
        )
    _send(envelope, plan, request)
    return envelope_out(_visible(request, envelope.pk))


@router.get("/envelopes/{int:envelope_id}", response={200: EnvelopeOut, **ERRORS}, auth=auth.READ)
def envelope_detail(request: HttpRequest, envelope_id: int) -> Any:
    return envelope_out(_visible(request, envelope_id))


@router.get("/envelopes", response={200: EnvelopePage, **ERRORS}, auth=auth.READ)
def envelope_list(
    request: HttpRequest,
    page: Query[PageQuery],
    status: str = "",
    q: str = "",
    responsible: str = "",
    company: str = "",
    counterparty: str = "",
    created_from: str = "",
    created_to: str = "",
    amount_min: str = "",
    amount_max: str = "",
    mine: str = "",
    overdue: str = "",
) -> Any:
    """Filters as on the board (a value that does not parse is ignored); `status` takes one
    status or several separated by commas."""
    user = caller(request)
    params = {
        "q": q,
        "responsible": responsible,
        "company": company,
        "counterparty": counterparty,
        "created_from": created_from,
        "created_to": created_to,
        "amount_min": amount_min,
        "amount_max": amount_max,
        "mine": mine,
        "overdue": overdue,
    }
    qs = selectors.filtered_envelopes(user=user, filters=selectors.parse_filters(params, user=user))
    statuses = [s for s in status.split(",") if s]
    if statuses:
        unknown = sorted(set(statuses) - set(Envelope.Status.values))
        if unknown:
            raise SignFlowError(
                "invalid",
                _("Unknown status: %(status)s.") % {"status": ", ".join(unknown)[:200]},
                fields={"status": [", ".join(Envelope.Status.values)]},
            )
        qs = qs.filter(status__in=statuses)
    return page_of(qs, page, summary_out)


@router.post(
    "/envelopes/{int:envelope_id}/remind", response={200: EnvelopeOut, **ERRORS}, auth=auth.SEND
)
def envelope_remind(request: HttpRequest, envelope_id: int) -> Any:
    envelope = _actionable(request, envelope_id)
    services.envelope_remind(envelope=envelope, actor=caller(request))
    return envelope_out(_visible(request, envelope.pk))


@router.post(
    "/envelopes/{int:envelope_id}/cancel", response={200: EnvelopeOut, **ERRORS}, auth=auth.SEND
)
def envelope_cancel(request: HttpRequest, envelope_id: int, payload: CancelIn) -> Any:
    envelope = _actionable(request, envelope_id)
    services.envelope_cancel(envelope=envelope, actor=caller(request), reason=payload.reason)
    return envelope_out(_visible(request, envelope.pk))


@router.post(
    "/envelopes/{int:envelope_id}/parties/{int:party_id}/correct",
    response={200: EnvelopeOut, **ERRORS},
    auth=auth.SEND,
)
def party_correct(request: HttpRequest, envelope_id: int, party_id: int, payload: CorrectIn) -> Any:
    """Send the link again to a corrected email or phone (and channel): the old link dies."""
    envelope = _actionable(request, envelope_id)
    party = get_object_or_404(Party, pk=party_id, envelope=envelope)
    services.party_reissue(
        party=party,
        actor=caller(request),
        email=payload.email,
        phone=payload.phone,
        channel=payload.channel or "",
    )
    return envelope_out(_visible(request, envelope.pk))


def _sealed_bytes(envelope: Envelope) -> bytes:
    if envelope.sealed is None:
        raise Conflict("not_sealed", _("This document is not sealed yet."))
    with envelope.sealed.file.open("rb") as handle:
        return handle.read()


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/envelopes/{int:envelope_id}/sealed.pdf",
    response={200: bytes, **ERRORS},
    auth=auth.READ,
    openapi_extra={"responses": {200: {"content": {"application/pdf": {}}}}},
)
def envelope_sealed_pdf(request: HttpRequest, envelope_id: int) -> Any:
    """The sealed PDF (PAdES seal and timestamp), as on the envelope page."""
    envelope = _visible(request, envelope_id)
    return _pdf(_sealed_bytes(envelope), f"{envelope.public_id}.pdf")


@router.get(
    "/envelopes/{int:envelope_id}/certificate.pdf",
    response={200: bytes, **ERRORS},
    auth=auth.READ,
    openapi_extra={"responses": {200: {"content": {"application/pdf": {}}}}},
)
def envelope_certificate(request: HttpRequest, envelope_id: int) -> Any:
    """The certificate of completion: the pages the seal appended after the document's own.
    A copy for reading; only the whole sealed PDF carries the seal."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    envelope = _visible(request, envelope_id)
    out = io.BytesIO()
    try:
        reader = PdfReader(io.BytesIO(_sealed_bytes(envelope)))
        writer = PdfWriter()
        for page in reader.pages[envelope.document.page_count :]:
            writer.add_page(page)
        if not writer.pages:
            raise PdfReadError("no certificate pages")
        writer.write(out)
    except PdfReadError:
        raise Conflict(
            "certificate_unavailable",
            _("The certificate cannot be extracted: download the sealed PDF."),
        ) from None
    return _pdf(out.getvalue(), f"{envelope.public_id}-certificate.pdf")
