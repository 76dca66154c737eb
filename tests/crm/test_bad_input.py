"""Bad input gives a message next to the field and saves nothing."""

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from crm.models import Counterparty, Deal, Invoice, InvoiceLine, OwnCompany


def _invoice_post(**line: str) -> dict[str, Any]:
    data = {
        "issue_date": "2026-03-02",
        "due_date": "2026-04-01",
        "notes": "",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    good = [
        {
            "description": "Conception",
            "quantity": "1",
            "unit": "forfait",
            "unit_price": "4500",
            "vat_rate": "20",
        },
        {
            "description": "Enseigne",
            "quantity": "2",
            "unit": "u",
            "unit_price": "1249.99",
            "vat_rate": "20",
        },
        {
            "description": "Livrets",
            "quantity": "40",
            "unit": "u",
            "unit_price": "12.45",
            "vat_rate": "5.5",
        },
    ]
    good[0].update(line)
    for i, row in enumerate(good):
        for name, value in row.items():
            data[f"lines-{i}-{name}"] = value
    return data


def _field_errors(response: Any, name: str) -> list[str]:
    return list(response.context["formset"].forms[0].errors.get(name, []))


def test_a_valid_invoice_with_three_lines_is_created(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    response = client.post(f"/crm/deals/{deal.pk}/invoices/new/", _invoice_post())
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert invoice.lines.count() == 3
    assert str(invoice.totals()["gross"]) == "8925.37"


def test_a_letter_in_a_quantity_is_refused_next_to_the_quantity(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    response = client.post(f"/crm/deals/{deal.pk}/invoices/new/", _invoice_post(quantity="2x"))
    assert response.status_code == 200
    assert _field_errors(response, "quantity") == ["Quantity: enter a number, e.g. 2 or 1.5."]
    assert 'id="id_lines-0-quantity_error"' in response.content.decode()
    assert not Invoice.objects.exists()
    assert not InvoiceLine.objects.exists()


def test_a_negative_price_is_refused_next_to_the_price(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    response = client.post(f"/crm/deals/{deal.pk}/invoices/new/", _invoice_post(unit_price="-10"))
    assert _field_errors(response, "unit_price") == ["Unit price cannot be negative."]
    assert "Unit price cannot be negative." in response.content.decode()
    assert not Invoice.objects.exists()


def test_an_unknown_vat_rate_is_refused_next_to_the_rate(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    response = client.post(f"/crm/deals/{deal.pk}/invoices/new/", _invoice_post(vat_rate="7"))
    assert _field_errors(response, "vat_rate") == [
        "Unknown VAT rate: choose 20 %, 10 %, 5.5 %, 2.1 % or 0 %."
    ]
    assert not Invoice.objects.exists()


def test_a_due_date_before_the_issue_date_is_refused(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    data = _invoice_post()
    data["due_date"] = "2026-03-01"
    response = client.post(f"/crm/deals/{deal.pk}/invoices/new/", data)
    assert response.context["form"].errors["due_date"] == [
        "The due date cannot be before the issue date."
    ]
    assert not Invoice.objects.exists()


def test_an_invoice_without_lines_is_refused(client: Client, deal: Deal, sender: User) -> None:
    client.force_login(sender)
    # What a browser sends for three untouched rows: empty inputs, the rate select at 20 %.
    data = {
        k: (
            "20"
            if k.endswith("vat_rate")
            else ""
            if k.startswith("lines-") and "FORMS" not in k
            else v
        )
        for k, v in _invoice_post().items()
    }
    response = client.post(f"/crm/deals/{deal.pk}/invoices/new/", data)
    assert "An invoice needs at least one line." in response.content.decode()
    assert not Invoice.objects.exists()


def test_an_invalid_iban_on_a_counterparty_is_refused_next_to_the_iban(
    client: Client, sender: User
) -> None:
    client.force_login(sender)
    response = client.post(
        "/crm/counterparties/new/",
        {
            "kind": "company",
            "legal_name": "Fromagerie Durand",
            "iban": "FR7630006000011234567890188",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["iban"] == [
        "IBAN: the check digits do not match (a typo?)."
    ]
    assert 'id="id_iban_error"' in response.content.decode()
    assert not Counterparty.objects.filter(legal_name="Fromagerie Durand").exists()


def test_a_counterparty_with_valid_requisites_is_stored_normalised(
    client: Client, sender: User
) -> None:
    client.force_login(sender)
    response = client.post(
        "/crm/counterparties/new/",
        {
            "kind": "company",
            "legal_name": "Fromagerie Durand",
            "siren": "552 100 554",
            "siret": "552 100 554 00005",
            "vat_number": "fr 96 552100554",
            "iban": "fr76 3000 6000 0112 3456 7890 189",
            "phone": "01 43 57 00 00",
        },
    )
    assert response.status_code == 302
    stored = Counterparty.objects.get(legal_name="Fromagerie Durand")
    assert stored.siren == "552100554"
    assert stored.siret == "55210055400005"
    assert stored.vat_number == "FR96552100554"
    assert stored.iban == "FR7630006000011234567890189"
    assert stored.phone == "+33143570000"


def test_a_siret_of_another_company_than_the_siren_is_refused(client: Client, sender: User) -> None:
    client.force_login(sender)
    response = client.post(
        "/crm/counterparties/new/",
        {
            "kind": "company",
            "legal_name": "Fromagerie Durand",
            "siren": "552100554",
            "siret": "73282932000074",
        },
    )
    assert "SIRET: the first nine digits must be the SIREN" in response.content.decode()
    assert not Counterparty.objects.filter(legal_name="Fromagerie Durand").exists()


def test_a_contact_phone_that_is_not_a_number_is_refused(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    before = deal.counterparty.contacts.count()
    response = client.post(
        f"/crm/counterparties/{deal.counterparty_id}/contacts/new/",
        {"name": "Luc", "phone": "pas de téléphone"},
    )
    assert response.context["form"].errors["phone"][0].startswith("Phone:")
    assert deal.counterparty.contacts.count() == before


def test_a_director_phone_is_checked_on_our_company(
    client: Client, company: OwnCompany, manager: User
) -> None:
    client.force_login(manager)
    response = client.post(
        f"/crm/companies/{company.pk}/edit/",
        {"legal_name": company.legal_name, "director_name": "Claire", "director_phone": "12"},
    )
    assert "director_phone" in response.context["form"].errors
    company.refresh_from_db()
    assert company.director_phone == "+33612345678"


def test_a_contact_of_another_client_cannot_be_put_on_a_deal(
    client: Client, deal: Deal, sender: User, company: OwnCompany
) -> None:
    from tests import factories

    other = factories.make_counterparty(legal_name="Julie Moreau", kind="individual", siren="")
    stranger = factories.make_contact(other, name="Julie Moreau")
    client.force_login(sender)
    response = client.post(
        f"/crm/deals/{deal.pk}/edit/",
        {
            "title": deal.title,
            "company": company.pk,
            "counterparty": deal.counterparty_id,
            "contact": stranger.pk,
            "stage": deal.stage_id,
            "amount": "100",
            "currency": "EUR",
        },
    )
    assert "is not a contact of" in response.context["form"].errors["contact"][0]
    deal.refresh_from_db()
    assert deal.contact_id != stranger.pk
