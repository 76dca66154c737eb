"""Template contexts built from CRM records: plain strings only, never model instances.

A template is authored in the browser; handing it model objects would let it walk relations
(deal.responsible.password...). Values are formatted here for the document's language, and
Django's autoescaping escapes them when the template prints them. Every string goes through
`clean_text` on the way out, so a record saved before that cleaning existed (or written by a
path without a form) brings no bidi override or zero-width character into a PDF.
"""

from decimal import Decimal
from typing import Any

from django.utils import formats, timezone, translation

from crm.models import Counterparty, Deal, Invoice, OwnCompany, money
from signflow.money import format_money
from signflow.text import clean_value


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


def client_stamp_asked(company: OwnCompany | None, counterparty: Counterparty | None) -> bool:
    """Whether the document has a client stamp field at all: for a company client, when our
    company asks for it (OwnCompany.ask_client_stamp); an individual is never asked."""
    return bool(
        company is not None
        and company.ask_client_stamp
        and (counterparty is None or counterparty.kind == Counterparty.Kind.COMPANY)
    )


def deal_context(deal: Deal, *, language: str) -> dict[str, Any]:
    return clean_value(_deal_context(deal, language=language))


def _deal_context(deal: Deal, *, language: str) -> dict[str, Any]:
    contact = deal.contact
    return {
        "company": company_context(deal.company),
        "client": {
            **client_context(deal.counterparty),
            "stamp_asked": client_stamp_asked(deal.company, deal.counterparty),
        },
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
    context = _deal_context(invoice.deal, language=language)
    context["company"] = company_context(invoice.company)
    context["client"]["stamp_asked"] = client_stamp_asked(
        invoice.company, invoice.deal.counterparty
    )
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
    return clean_value(context)


# The made-up parties of the template editor's preview (sample_context).
_SAMPLE_COMPANY = {
    "legal_name": "Atelier Exemple SAS",
    "legal_form": "SAS",
    "siren": "123456789",
    "siret": "12345678900011",
    "vat_number": "FR32123456789",
    "rcs_city": "Lyon",
    "address": "1 place Bellecour\n69002 Lyon",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "director_name": "Claire Exemple",
    "director_title": "Présidente",
}
_SAMPLE_CLIENT = {
    "legal_name": "Client Exemple SARL",
    "legal_form": "SARL",
    "siren": "987654321",
    "siret": "98765432100017",
    "vat_number": "FR61987654321",
    "rcs_city": "Paris",
    "address": "10 rue de Rivoli\n75004 Paris",
    "iban": "",
    "bic": "",
    "kind": Counterparty.Kind.COMPANY,
    "is_company": True,
}
_SAMPLE_CONTACT = {"name": "Paul Exemple", "position": "Gérant", "email": "paul@exemple.fr"}


def sample_context(*, language: str, company: OwnCompany | None = None) -> dict[str, Any]:
    """What the template editor's preview renders with: the employee's own company when known,
    and a made-up client and invoice with the same keys as invoice_context()."""
    currency = "EUR"

    def amount(value: str) -> str:
        return format_money(Decimal(value), currency, language)

    with translation.override(language):
        today = _date(timezone.localdate(), language)
    return {
        "company": company_context(company) if company is not None else dict(_SAMPLE_COMPANY),
        "client": {
            **_SAMPLE_CLIENT,
            "stamp_asked": client_stamp_asked(company, None),
            "email": "contact@client-exemple.fr",
            "phone": "+33612345678",
        },
        "contact": dict(_SAMPLE_CONTACT),
        "deal": {"title": "Refonte du site web", "amount": amount("12000")},
        "invoice": {
            "number": "F-0001",
            "issue_date": today,
            "due_date": today,
            "currency": currency,
        },
        "lines": [
            {
                "description": "Conception graphique",
                "quantity": _number(Decimal("1"), language),
                "unit": "forfait",
                "unit_price": amount("10000"),
                "vat_rate": _percent(Decimal("20"), language),
                "net": amount("10000"),
            }
        ],
        "totals": {
            "net": amount("10000"),
            "vat": amount("2000"),
            "gross": amount("12000"),
            "vat_rows": [
                {
                    "rate": _percent(Decimal("20"), language),
                    "base": amount("10000"),
                    "amount": amount("2000"),
                }
            ],
        },
    }


def crm_variables() -> list[str]:
    """The `{{ ... }}` expressions a template may print, for the editor's toolbar."""
    names = []
    for group, values in sample_context(language="en").items():
        if isinstance(values, dict):
            names += [f"{group}.{key}" for key, value in values.items() if isinstance(value, str)]
    return names
