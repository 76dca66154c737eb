"""Reads that span relations, written to avoid N+1 queries."""

from django.db.models import Prefetch, QuerySet

from signing.models import Envelope, Party


def _with_parties(qs: QuerySet[Envelope]) -> QuerySet[Envelope]:
    return qs.prefetch_related(Prefetch("parties", queryset=Party.objects.order_by("order")))


def envelopes_for_deal(*, deal_id: int) -> QuerySet[Envelope]:
    return _with_parties(Envelope.objects.filter(deal_id=deal_id))


def envelopes_for_invoice(*, invoice_id: int) -> QuerySet[Envelope]:
    return _with_parties(Envelope.objects.filter(document__invoice_id=invoice_id))
