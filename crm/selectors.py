"""Reads that span relations, shaped to avoid N+1 queries on the CRM pages."""

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Prefetch, Q, QuerySet

from crm.models import Counterparty, Deal, Invoice, InvoiceLine


def deal_queryset() -> QuerySet[Deal]:
    return Deal.objects.select_related("company", "counterparty", "contact", "stage", "responsible")


def deal_search(
    *, deals: QuerySet[Deal], text: str = "", stage_code: str = "", responsible_id: str = ""
) -> QuerySet[Deal]:
    deals = deals.select_related("counterparty", "contact", "stage", "responsible")
    text = text.strip()
    if text:
        deals = deals.filter(
            Q(title__icontains=text)
            | Q(counterparty__legal_name__icontains=text)
            | Q(contact__name__icontains=text)
        )
    if stage_code:
        deals = deals.filter(stage__code=stage_code)
    if responsible_id.isdigit():
        deals = deals.filter(responsible_id=int(responsible_id))
    return deals.order_by("-created_at", "-id")


def employees_with_deals() -> QuerySet[User]:
    return User.objects.filter(employee__isnull=False).order_by("first_name", "last_name")


def _with_lines(qs: QuerySet[Invoice]) -> QuerySet[Invoice]:
    return qs.prefetch_related(
        Prefetch("lines", queryset=InvoiceLine.objects.order_by("position", "id"))
    )


def invoice_queryset() -> QuerySet[Invoice]:
    return _with_lines(
        Invoice.objects.select_related(
            "company", "deal", "deal__counterparty", "deal__contact", "deal__responsible"
        )
    )


def invoices_of_deal(*, deal: Deal) -> QuerySet[Invoice]:
    return _with_lines(deal.invoices.all())


def invoice_search(
    *, invoices: QuerySet[Invoice], text: str = "", status: str = ""
) -> QuerySet[Invoice]:
    invoices = _with_lines(invoices.select_related("deal", "deal__counterparty"))
    text = text.strip()
    if text:
        query = Q(deal__title__icontains=text) | Q(deal__counterparty__legal_name__icontains=text)
        # "F-2026-00012", "2026-12" or "12": match the number the way people read it.
        parts = [p for p in text.upper().removeprefix("F-").split("-") if p]
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            query |= Q(year=int(parts[0]), sequence=int(parts[1]))
        elif len(parts) == 1 and parts[0].isdigit():
            query |= Q(sequence=int(parts[0]))
        invoices = invoices.filter(query)
    if status:
        invoices = invoices.filter(status=status)
    return invoices.order_by("-year", "-sequence")


def invoice_next_statuses(*, invoice: Invoice) -> list[tuple[str, Any]]:
    from crm.services import INVOICE_TRANSITIONS

    allowed = INVOICE_TRANSITIONS.get(invoice.status, set())
    return [(value, label) for value, label in Invoice.Status.choices if value in allowed]


def counterparty_search(*, text: str = "", kind: str = "") -> QuerySet[Counterparty]:
    counterparties = Counterparty.objects.all()
    text = text.strip()
    if text:
        counterparties = counterparties.filter(
            Q(legal_name__icontains=text)
            | Q(siren__icontains=text.replace(" ", ""))
            | Q(email__icontains=text)
            | Q(contacts__name__icontains=text)
        ).distinct()
    if kind:
        counterparties = counterparties.filter(kind=kind)
    return counterparties.order_by("legal_name", "id")
