"""Counterparties and contacts (list, create, update), deals and invoices (list, create).

Input goes through the pages' own forms (identifiers and phones normalised by crm.validators)
or straight to crm.services; access through crm.access. No rule of its own.
"""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router
from ninja.responses import Status

from api import auth
from api.endpoints.common import PageQuery, attrs, caller, changed, form_error, require
from api.pagination import page_of
from api.schemas import (
    ERRORS,
    ContactIn,
    ContactOut,
    ContactPatch,
    CounterpartyIn,
    CounterpartyOut,
    CounterpartyPage,
    CounterpartyPatch,
    DealIn,
    DealOut,
    DealPage,
    InvoiceIn,
    InvoiceOut,
    InvoicePage,
)
from crm import access, selectors, services
from crm.forms import ContactForm, CounterpartyForm, DealForm, model_form_data
from crm.models import Contact, Counterparty, Deal, DealStage, Invoice
from signflow.errors import NotAllowed

router = Router(tags=["CRM"])


def counterparty_out(counterparty: Counterparty) -> dict[str, Any]:
    return {
        "id": counterparty.pk,
        **model_to_dict(counterparty, exclude=["id"]),
        "created_at": counterparty.created_at,
    }


def contact_out(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "counterparty_id": contact.counterparty_id,
        **model_to_dict(contact, fields=["name", "position", "email", "phone"]),
    }


def deal_out(deal: Deal) -> dict[str, Any]:
    return {
        **attrs(deal, "id", "title", "company_id", "counterparty_id", "contact_id", "amount"),
        **attrs(deal, "currency", "responsible_id", "created_at"),
        "stage": deal.stage.code,
    }


def invoice_out(invoice: Invoice) -> dict[str, Any]:
    return {
        **attrs(invoice, "id", "number", "deal_id", "status", "issue_date", "due_date"),
        **attrs(invoice, "currency", "notes"),
        "lines": [
            attrs(line, "description", "quantity", "unit", "unit_price", "vat_rate", "net")
            for line in invoice.lines.all()
        ],
        "totals": invoice.totals(),
    }


# --- Counterparties and contacts -----------------------------------------------------------


@router.get("/counterparties", response={200: CounterpartyPage, **ERRORS}, auth=auth.READ)
def counterparty_list(
    request: HttpRequest,
    page: Query[PageQuery],
    q: str = "",
    kind: str = "",
) -> Any:
    require(access.can_use_crm(caller(request)))
    qs = selectors.counterparty_search(text=q[:100], kind=kind[:20])
    return page_of(qs, page, counterparty_out)


def _save_counterparty(
    request: HttpRequest, data: dict[str, Any], instance: Counterparty | None
) -> Counterparty:
    form = CounterpartyForm(data, instance=instance)
    if not form.is_valid():
        raise form_error(form)
    return services.counterparty_save(
        counterparty=instance, data=model_form_data(form), actor=caller(request)
    )


@router.post("/counterparties", response={201: CounterpartyOut, **ERRORS}, auth=auth.SEND)
def counterparty_create(request: HttpRequest, payload: CounterpartyIn) -> Any:
    require(access.can_use_crm(caller(request)))
    return Status(201, counterparty_out(_save_counterparty(request, payload.model_dump(), None)))


@router.patch(
    "/counterparties/{int:counterparty_id}",
    response={200: CounterpartyOut, **ERRORS},
    auth=auth.SEND,
)
def counterparty_update(
    request: HttpRequest, counterparty_id: int, payload: CounterpartyPatch
) -> Any:
    require(access.can_use_crm(caller(request)))
    counterparty = get_object_or_404(Counterparty, pk=counterparty_id)
    data = {**model_to_dict(counterparty), **changed(payload)}
    return counterparty_out(_save_counterparty(request, data, counterparty))


@router.get(
    "/counterparties/{int:counterparty_id}/contacts",
    response={200: list[ContactOut], **ERRORS},
    auth=auth.READ,
)
def contact_list(request: HttpRequest, counterparty_id: int) -> Any:
    require(access.can_use_crm(caller(request)))
    counterparty = get_object_or_404(Counterparty, pk=counterparty_id)
    return [contact_out(c) for c in counterparty.contacts.all()]


def _save_contact(
    request: HttpRequest,
    data: dict[str, Any],
    instance: Contact | None,
    counterparty: Counterparty,
) -> Contact:
    form = ContactForm(data, instance=instance)
    if not form.is_valid():
        raise form_error(form)
    return services.contact_save(
        contact=instance,
        counterparty=counterparty,
        data=model_form_data(form),
        actor=caller(request),
    )


@router.post(
    "/counterparties/{int:counterparty_id}/contacts",
    response={201: ContactOut, **ERRORS},
    auth=auth.SEND,
)
def contact_create(request: HttpRequest, counterparty_id: int, payload: ContactIn) -> Any:
    require(access.can_use_crm(caller(request)))
    counterparty = get_object_or_404(Counterparty, pk=counterparty_id)
    return Status(
        201, contact_out(_save_contact(request, payload.model_dump(), None, counterparty))
    )


@router.patch("/contacts/{int:contact_id}", response={200: ContactOut, **ERRORS}, auth=auth.SEND)
def contact_update(request: HttpRequest, contact_id: int, payload: ContactPatch) -> Any:
    require(access.can_use_crm(caller(request)))
    contact = get_object_or_404(Contact.objects.select_related("counterparty"), pk=contact_id)
    data = {**model_to_dict(contact), **changed(payload)}
    return contact_out(_save_contact(request, data, contact, contact.counterparty))


# --- Deals and invoices ----------------------------------------------------------------------


@router.get("/deals", response={200: DealPage, **ERRORS}, auth=auth.READ)
def deal_list(request: HttpRequest, page: Query[PageQuery], q: str = "", stage: str = "") -> Any:
    deals = selectors.deal_search(
        deals=access.deals_visible_to(caller(request)), text=q[:100], stage_code=stage[:30]
    )
    return page_of(deals, page, deal_out)


DEAL_FIELDS = {
    "company": "company_id",
    "counterparty": "counterparty_id",
    "contact": "contact_id",
    "responsible": "responsible_id",
}


@router.post("/deals", response={201: DealOut, **ERRORS}, auth=auth.SEND)
def deal_create(request: HttpRequest, payload: DealIn) -> Any:
    user = caller(request)
    require(access.can_use_crm(user))
    can_reassign = access.can_reassign_deal(user)
    company_id = payload.company_id or getattr(services.own_company_default(), "pk", None)
    stage = DealStage.objects.first_open()
    if payload.stage:
        stage = DealStage.objects.filter(code=payload.stage).first() or DealStage(pk=0)
    data = {
        "title": payload.title,
        "company": company_id,
        "counterparty": payload.counterparty_id,
        "contact": payload.contact_id,
        "stage": stage.pk,
        "amount": payload.amount,
        "currency": payload.currency,
        "responsible": payload.responsible_id or user.pk,
    }
    if payload.responsible_id and not can_reassign:
        raise NotAllowed(
            message=_("Only a manager chooses another responsible employee."),
            fields={"responsible_id": [_("Only a manager chooses another responsible employee.")]},
        )
    form = DealForm(data, can_reassign=can_reassign)
    if not form.is_valid():
        raise form_error(form, DEAL_FIELDS)
    cleaned = form.cleaned_data
    deal = services.deal_create(
        title=cleaned["title"],
        company=cleaned["company"],
        counterparty=cleaned["counterparty"],
        contact=cleaned["contact"],
        responsible=cleaned.get("responsible") or user,
        amount=cleaned["amount"],
        currency=cleaned["currency"],
        stage=cleaned["stage"],
        actor=user,
    )
    return Status(201, deal_out(selectors.deal_queryset().get(pk=deal.pk)))


@router.get("/invoices", response={200: InvoicePage, **ERRORS}, auth=auth.READ)
def invoice_list(
    request: HttpRequest,
    page: Query[PageQuery],
    q: str = "",
    status: str = "",
    deal_id: int | None = None,
) -> Any:
    invoices = selectors.invoice_search(
        invoices=access.invoices_visible_to(caller(request)), text=q[:100], status=status[:10]
    )
    if deal_id is not None:
        invoices = invoices.filter(deal_id=deal_id if 0 < deal_id < 2**63 else 0)
    return page_of(invoices, page, invoice_out)


@router.post("/invoices", response={201: InvoiceOut, **ERRORS}, auth=auth.SEND)
def invoice_create(request: HttpRequest, payload: InvoiceIn) -> Any:
    user = caller(request)
    deal = get_object_or_404(selectors.deal_queryset(), pk=payload.deal_id)
    require(access.can_edit_deal(user, deal))
    invoice = services.invoice_create(
        deal=deal,
        lines=[line.line_data() for line in payload.lines],
        issue_date=payload.issue_date,
        due_date=payload.due_date,
        notes=payload.notes,
        actor=user,
    )
    return Status(201, invoice_out(selectors.invoice_queryset().get(pk=invoice.pk)))
