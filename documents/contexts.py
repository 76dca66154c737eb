"""Template contexts built from CRM records: plain strings only, never model instances.

A template is authored in the browser; handing it model objects would let it walk relations
(deal.responsible.password...). Values are formatted here for the document's language, and
Django's autoescaping escapes them when the template prints them.
"""

from decimal import Decimal
from typing import Any

from django.utils import formats, translation

from crm.models import Counterparty, Deal, Invoice, OwnCompany, money
from signflow.money import format_money


def _number(value: Decimal, language: str) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "fr" else text


def _percent(rate: Decimal, language: str) -> str:
    number = _number(rate, language)
    return f"{number}\u00a0%" if language == "fr" else f"{number}%"


def _date(value: Any, language: str) -> str:
    with translation.override(language):
        return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""


def requisites(party: OwnCompany | Counterparty) -> dict[str, str]:
    keys = ("legal_name", "legal_form", "siren", "siret", "vat_number", "rcs_city")
    data = {key: str(getattr(party, key) or "") for key in keys}
    data.update(address=party.address or "", iban=party.iban or "", bic=party.bic or "")
    return data


def company_context(company: OwnCompany) -> dict[str, str]:
    data = requisites(company)
    data.update(director_name=company.director_name, director_title=company.director_title)
    return data


def client_context(counterparty: Counterparty) -> dict[str, Any]:
    data: dict[str, Any] = requisites(counterparty)
    data.update(
        kind=counterparty.kind,
        is_company=counterparty.kind == Counterparty.Kind.COMPANY,
        email=counterparty.email,
        phone=counterparty.phone,
    )
    return data


def deal_context(deal: Deal, *, language: str) -> dict[str, Any]:
    contact = deal.contact
    return {
        "company": company_context(deal.company),
        "client": client_context(deal.counterparty),
        "contact": {
            "name": contact.name if contact else "",
            "position": contact.position if contact else "",
            "email": contact.email if contact else "",
        },
        "deal": {
            "title": deal.title,
            "amount": format_money(deal.amount, deal.currency, language),
        },
    }


def invoice_context(invoice: Invoice, *, language: str) -> dict[str, Any]:
    """Everything the invoice template prints, formatted for `language`."""
    currency = invoice.currency
    lines = list(invoice.lines.all())
    totals = invoice.totals()
    bases: dict[Decimal, Decimal] = {}
    for line in lines:
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal(0)) + line.net
    # Same rounding as Invoice.totals(): VAT rounded once per rate, on the summed bases.
    vat_rows = [
        {
            "rate": _percent(rate, language),
            "base": format_money(money(base), currency, language),
            "amount": format_money(money(base * rate / 100), currency, language),
        }
        for rate, base in sorted(bases.items())
    ]
    context = deal_context(invoice.deal, language=language)
    context["company"] = company_context(invoice.company)
    context.update(
        invoice={
            "number": invoice.number,
            "issue_date": _date(invoice.issue_date, language),
            "due_date": _date(invoice.due_date, language),
            "currency": currency,
        },
        lines=[
            {
                "description": line.description,
                "quantity": _number(line.quantity, language),
                "unit": line.unit,
                "unit_price": format_money(line.unit_price, currency, language),
                "vat_rate": _percent(line.vat_rate, language),
                "net": format_money(line.net, currency, language),
            }
            for line in lines
        ],
        totals={
            "net": format_money(totals["net"], currency, language),
            "vat": format_money(totals["vat"], currency, language),
            "gross": format_money(totals["gross"], currency, language),
            "vat_rows": vat_rows,
        },
    )
    return context
