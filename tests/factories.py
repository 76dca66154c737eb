"""Builders for test data: one place that knows how to make a valid CRM world."""

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from crm.models import (
    Contact,
    Counterparty,
    Deal,
    Employee,
    Invoice,
    InvoiceLine,
    OwnCompany,
)


def make_company(**kwargs: Any) -> OwnCompany:
    defaults: dict[str, Any] = {
        "legal_name": "Atelier Lumière SAS",
        "legal_form": "SAS",
        "siren": "732829320",
        "siret": "73282932000074",
        "vat_number": "FR44732829320",
        "rcs_city": "Lyon",
        "address": "12 rue de la République\n69002 Lyon",
        "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP",
        "director_name": "Claire Dubois",
        "director_title": "Présidente",
        "director_email": "claire.dubois@atelier-lumiere.fr",
        "director_phone": "+33612345678",
        "is_default": not OwnCompany.objects.filter(is_default=True).exists(),
    }
    defaults.update(kwargs)
    return OwnCompany.objects.create(**defaults)


def make_user(username: str, *, company: OwnCompany | None, role: str = "employee") -> User:
    first, _, last = username.partition(".")
    user = User.objects.create_user(
        username=username,
        password="pass-" + username,
        email=f"{username}@atelier-lumiere.fr",
        first_name=first.title(),
        last_name=last.title(),
    )
    if company is not None:
        Employee.objects.create(user=user, company=company, role=role)
    return user


def make_counterparty(**kwargs: Any) -> Counterparty:
    defaults: dict[str, Any] = {
        "kind": Counterparty.Kind.COMPANY,
        "legal_name": "Boulangerie Martin SARL",
        "legal_form": "SARL",
        "siren": "552100554",
        "address": "3 place du Marché\n75011 Paris",
        "email": "contact@boulangerie-martin.fr",
    }
    defaults.update(kwargs)
    return Counterparty.objects.create(**defaults)


def make_contact(counterparty: Counterparty, **kwargs: Any) -> Contact:
    defaults: dict[str, Any] = {
        "name": "Paul Martin",
        "position": "Gérant",
        "email": "paul.martin@boulangerie-martin.fr",
        "phone": "+33698765432",
    }
    defaults.update(kwargs)
    return Contact.objects.create(counterparty=counterparty, **defaults)


def make_deal(
    *, company: OwnCompany, responsible: User, counterparty: Counterparty | None = None
) -> Deal:
    counterparty = counterparty or make_counterparty()
    contact = counterparty.contacts.first() or make_contact(counterparty)
    return Deal.objects.create(
        title="Refonte de la vitrine",
        company=company,
        counterparty=counterparty,
        contact=contact,
        amount=Decimal("10000.00"),
        responsible=responsible,
    )


def make_invoice(deal: Deal, *, lines: list[tuple[str, str, str, str]] | None = None) -> Invoice:
    """Lines as (description, quantity, unit price, VAT rate)."""
    last = Invoice.objects.filter(company=deal.company, year=2026).order_by("-sequence").first()
    invoice = Invoice.objects.create(
        deal=deal,
        company=deal.company,
        year=2026,
        sequence=(last.sequence + 1) if last else 1,
        issue_date=datetime.date(2026, 11, 20),
        due_date=datetime.date(2026, 12, 20),
        status=Invoice.Status.ISSUED,
    )
    for position, (description, quantity, price, rate) in enumerate(
        lines or [("Conception graphique", "1", "8333.33", "20")]
    ):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            description=description,
            quantity=Decimal(quantity),
            unit="forfait",
            unit_price=Decimal(price),
            vat_rate=Decimal(rate),
        )
    return invoice
