from decimal import Decimal

from django.contrib.auth.models import User
from django.test import Client

from crm.models import Deal, DealEvent, DealStage, Invoice
from crm.services import deal_timeline_add, invoice_set_status
from tests import factories


def test_the_deal_list_finds_a_deal_by_client_name(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    assert deal.title in client.get("/crm/deals/", {"q": "boulangerie"}).content.decode()
    assert deal.title not in client.get("/crm/deals/", {"q": "inconnu"}).content.decode()


def test_the_deal_list_filters_by_stage(client: Client, deal: Deal, sender: User) -> None:
    client.force_login(sender)
    assert deal.title in client.get("/crm/deals/", {"stage": "new"}).content.decode()
    assert deal.title not in client.get("/crm/deals/", {"stage": "won"}).content.decode()


def test_htmx_gets_only_the_results_fragment(client: Client, deal: Deal, sender: User) -> None:
    client.force_login(sender)
    response = client.get("/crm/deals/", {"q": "vitrine"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">')
    assert "<html" not in body and deal.title in body


def test_the_deal_list_is_paginated(client: Client, deal: Deal, manager: User) -> None:
    for _ in range(25):
        factories.make_deal(
            company=deal.company, responsible=manager, counterparty=deal.counterparty
        )
    client.force_login(manager)
    first = client.get("/crm/deals/")
    assert first.context["page"].paginator.num_pages == 2
    assert len(client.get("/crm/deals/", {"page": 2}).context["page"]) == 6


def test_the_deal_page_shows_the_send_for_signature_form(
    client: Client, deal: Deal, sender: User
) -> None:
    invoice = factories.make_invoice(deal)
    client.force_login(sender)
    page = client.get(f"/crm/deals/{deal.pk}/").content.decode()
    assert f'action="/invoices/{invoice.pk}/send/"' in page
    assert "Send for signature" in page
    assert "No document sent for signature yet." in page  # the signing status tag


def test_the_invoice_page_shows_the_send_for_signature_form(
    client: Client, deal: Deal, sender: User
) -> None:
    invoice = factories.make_invoice(deal)
    client.force_login(sender)
    page = client.get(f"/crm/invoices/{invoice.pk}/").content.decode()
    assert f'action="/invoices/{invoice.pk}/send/"' in page


def test_an_employee_creates_a_deal_for_themselves(
    client: Client, sender: User, company: object
) -> None:
    counterparty = factories.make_counterparty()
    contact = factories.make_contact(counterparty)
    client.force_login(sender)
    response = client.post(
        "/crm/deals/new/",
        {
            "title": "Nouvelle enseigne",
            "company": company.pk,  # type: ignore[attr-defined]
            "counterparty": counterparty.pk,
            "contact": contact.pk,
            "stage": DealStage.objects.first_open().pk,
            "amount": "1500.50",
            "currency": "EUR",
        },
    )
    deal = Deal.objects.get(title="Nouvelle enseigne")
    assert response.status_code == 302
    assert deal.responsible == sender
    assert deal.amount == Decimal("1500.50")
    assert deal.timeline.filter(kind=DealEvent.Kind.CREATED).exists()


def test_changing_the_stage_is_written_to_the_timeline(
    client: Client, deal: Deal, sender: User
) -> None:
    won = DealStage.objects.get(code="won")
    client.force_login(sender)
    client.post(
        f"/crm/deals/{deal.pk}/edit/",
        {
            "title": deal.title,
            "company": deal.company_id,
            "counterparty": deal.counterparty_id,
            "contact": deal.contact_id,
            "stage": won.pk,
            "amount": "10000",
            "currency": "EUR",
        },
    )
    deal.refresh_from_db()
    assert deal.stage == won
    assert deal.timeline.filter(kind=DealEvent.Kind.STAGE_CHANGED).exists()


def test_deal_timeline_add_appends_an_event_for_other_apps(deal: Deal, sender: User) -> None:
    deal_timeline_add(deal=deal, kind="document_sent", text="Facture envoyée pour signature")
    deal_timeline_add(deal=deal, kind="signed", text="Signée par Paul Martin", actor=sender)
    assert list(deal.timeline.values_list("kind", flat=True)) == ["document_sent", "signed"]


def test_an_issued_invoice_can_be_paid_but_not_put_back_to_draft(deal: Deal) -> None:
    import pytest

    from signflow.errors import Conflict

    invoice = factories.make_invoice(deal)  # issued
    invoice_set_status(invoice=invoice, status=Invoice.Status.PAID)
    with pytest.raises(Conflict) as refused:
        invoice_set_status(invoice=invoice, status=Invoice.Status.DRAFT)
    assert refused.value.code == "transition" and refused.value.status == 409
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_making_a_company_default_clears_the_previous_default(
    client: Client, company: object, manager: User
) -> None:
    other = factories.make_company(legal_name="Lumière Sud SARL", is_default=False)
    client.force_login(manager)
    client.post(f"/crm/companies/{other.pk}/default/")
    other.refresh_from_db()
    company.refresh_from_db()  # type: ignore[attr-defined]
    assert other.is_default and not company.is_default  # type: ignore[attr-defined]


def test_the_pages_are_in_french_by_default(
    client: Client, deal: Deal, sender: User, settings: object
) -> None:
    settings.LANGUAGE_CODE = "fr"  # type: ignore[attr-defined]
    factories.make_invoice(deal)
    client.force_login(sender)
    page = client.get(f"/crm/deals/{deal.pk}/").content.decode()
    assert "Envoyer pour signature" in page
    assert "Factures" in page
