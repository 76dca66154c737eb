"""Envelopes for the benches that need many: a one-line invoice of the demo deal, sent.

Imported as `_flow` by bench_cost.py, bench_flow.py and bench_queue_latency.py (their folder is on sys.path
when they run), after django.setup() and seed_demo.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any


def demo_deal() -> Any:
    from crm.models import Deal

    deal = Deal.objects.filter(contact__isnull=False).first()
    assert deal is not None and deal.contact is not None, "run seed_demo first"
    return deal


def new_invoice(deal: Any, *, lines: int = 1) -> Any:
    """An invoice of `deal` with `lines` lines (60 make several pages), numbered after the
    last one."""
    from crm.models import Invoice, InvoiceLine

    base = Invoice.objects.filter(deal=deal).first()
    assert base is not None
    last = Invoice.objects.filter(company=deal.company, year=base.year).order_by("-sequence")[0]
    invoice = Invoice.objects.create(
        deal=deal,
        company=deal.company,
        year=base.year,
        sequence=last.sequence + 1,
        issue_date=base.issue_date,
        due_date=base.due_date,
        status=Invoice.Status.ISSUED,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=i,
            description="Prestation" if lines == 1 else f"Prestation {i + 1}",
            quantity=Decimal(1 + i % 3),
            unit="h",
            unit_price=Decimal("95.50"),
            vat_rate=Decimal("20"),
        )
        for i in range(lines)
    )
    return invoice


def send(envelope: Any, deal: Any, *, director_phone: str = "", client_sms: bool = False) -> None:
    """Send through the service: the director first (by SMS when a phone is given), the client."""
    from django.utils import timezone

    from signing import services

    company, contact = deal.company, deal.contact
    services.envelope_send(
        envelope=envelope,
        actor=deal.responsible,
        language="fr",
        deadline=timezone.now() + timedelta(days=30),
        reminder_every_days=1,
        reminder_max=3,
        parties=[
            services.PartyInput(
                role="company",
                name=company.director_name,
                email="" if director_phone else company.director_email,
                phone=director_phone,
                channel="sms" if director_phone else "email",
                is_company=True,
            ),
            services.PartyInput(
                role="client",
                name=contact.name,
                email=contact.email,
                phone=contact.phone if client_sms else "",
                channel="sms" if client_sms else "email",
            ),
        ],
    )


def sign_both(envelope: Any) -> None:
    """The director signs (typed signature and the demo stamp), then the client: the envelope
    waits for its seal (the seal task, queued on commit, is not run here)."""
    from signing import demo

    director, client = list(envelope.parties.order_by("order"))
    demo._sign(director, typed_name=director.name, stamp=demo._stamp())
    client.refresh_from_db()
    demo._sign(client, typed_name=client.name, stamp=None)
    envelope.refresh_from_db()
