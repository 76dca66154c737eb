"""Reads that span relations, written to avoid N+1 queries."""

from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy

from signing.models import Envelope, Party


def _with_parties(qs: QuerySet[Envelope]) -> QuerySet[Envelope]:
    return qs.prefetch_related(Prefetch("parties", queryset=Party.objects.order_by("order")))


def envelopes_for_deal(*, deal_id: int) -> QuerySet[Envelope]:
    return _with_parties(Envelope.objects.filter(deal_id=deal_id))


def envelopes_for_invoice(*, invoice_id: int) -> QuerySet[Envelope]:
    return _with_parties(Envelope.objects.filter(document__invoice_id=invoice_id))


BOARD_COLUMNS = [
    ("draft", (Envelope.Status.DRAFT,)),
    ("awaiting_company", (Envelope.Status.AWAITING_COMPANY,)),
    ("awaiting_client", (Envelope.Status.AWAITING_CLIENT,)),
    ("signed", (Envelope.Status.SEALING, Envelope.Status.COMPLETED)),
    ("not_signed", (Envelope.Status.DECLINED, Envelope.Status.CANCELLED, Envelope.Status.EXPIRED)),
]
BOARD_TITLES = {
    "draft": gettext_lazy("Draft"),
    "awaiting_company": gettext_lazy("Awaiting our signature"),
    "awaiting_client": gettext_lazy("Awaiting client"),
    "signed": gettext_lazy("Signed"),
    "not_signed": gettext_lazy("Not signed"),
}
CARDS_PER_PAGE = 20


def board_columns(*, user: Any, params: Any) -> list[dict[str, Any]]:
    """Each column with its count, total amount and first cards: a fixed number of queries."""
    from signing.access import visible_envelopes

    base = visible_envelopes(user)
    search = (params.get("q") or "").strip()
    if search:
        base = base.filter(
            Q(title__icontains=search) | Q(counterparty__legal_name__icontains=search)
        )
    stats: dict[str, Any] = {
        row["status"]: row
        for row in base.order_by().values("status").annotate(n=Count("id"), total=Sum("amount"))
    }
    columns = []
    for key, statuses in BOARD_COLUMNS:
        count = sum(stats.get(s, {}).get("n", 0) for s in statuses)
        total = sum((stats.get(s, {}).get("total") or Decimal(0) for s in statuses), Decimal(0))
        cards = (
            base.filter(status__in=statuses)
            .select_related("counterparty", "responsible")
            .order_by("-status_changed_at", "-id")[:CARDS_PER_PAGE]
        )
        columns.append(
            {"key": key, "title": BOARD_TITLES[key], "count": count, "total": total, "cards": cards}
        )
    return columns
