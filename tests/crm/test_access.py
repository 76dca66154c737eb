"""crm.access branch by branch: the responsible employee, a colleague, a manager, an outsider."""

from django.contrib.auth.models import AnonymousUser, User
from django.test import Client

from crm import access
from crm.models import Deal
from tests import factories


def test_the_responsible_employee_sees_and_edits_their_deal(deal: Deal, sender: User) -> None:
    assert access.can_view_deal(sender, deal)
    assert access.can_edit_deal(sender, deal)
    assert list(access.deals_visible_to(sender)) == [deal]


def test_a_colleague_does_not_see_a_deal_they_are_not_responsible_for(
    deal: Deal, colleague: User
) -> None:
    assert not access.can_view_deal(colleague, deal)
    assert not access.can_edit_deal(colleague, deal)
    assert list(access.deals_visible_to(colleague)) == []


def test_a_manager_sees_and_edits_every_deal(deal: Deal, manager: User, colleague: User) -> None:
    other = factories.make_deal(company=deal.company, responsible=colleague)
    assert access.can_view_deal(manager, deal)
    assert access.can_edit_deal(manager, other)
    assert set(access.deals_visible_to(manager)) == {deal, other}


def test_a_user_without_an_employee_profile_sees_nothing(deal: Deal, outsider: User) -> None:
    assert not access.can_view_deal(outsider, deal)
    assert list(access.deals_visible_to(outsider)) == []
    assert list(access.invoices_visible_to(outsider)) == []
    assert not access.can_use_crm(outsider)


def test_an_anonymous_visitor_sees_nothing(deal: Deal) -> None:
    assert not access.can_view_deal(AnonymousUser(), deal)
    assert not access.is_manager(AnonymousUser())


def test_invoices_follow_the_access_to_their_deal(
    deal: Deal, sender: User, colleague: User, manager: User
) -> None:
    invoice = factories.make_invoice(deal)
    assert access.can_view_invoice(sender, invoice)
    assert not access.can_view_invoice(colleague, invoice)
    assert access.can_edit_invoice(manager, invoice)
    assert list(access.invoices_visible_to(colleague)) == []


def test_only_a_manager_manages_companies_the_pipeline_and_reassigns_deals(
    sender: User, manager: User, outsider: User
) -> None:
    assert access.can_manage_companies(manager)
    assert access.can_manage_stages(manager)
    assert access.can_reassign_deal(manager)
    for user in (sender, outsider):
        assert not access.can_manage_companies(user)
        assert not access.can_manage_stages(user)
        assert not access.can_reassign_deal(user)


def test_any_employee_may_work_with_counterparties(sender: User, manager: User) -> None:
    assert access.can_use_crm(sender)
    assert access.can_use_crm(manager)


# --- The same rules through the pages ---------------------------------------------------------


def test_the_deal_page_opens_for_its_responsible_employee(
    client: Client, deal: Deal, sender: User
) -> None:
    client.force_login(sender)
    assert client.get(f"/crm/deals/{deal.pk}/").status_code == 200


def test_the_deal_page_is_not_found_for_a_colleague(
    client: Client, deal: Deal, colleague: User
) -> None:
    client.force_login(colleague)
    assert client.get(f"/crm/deals/{deal.pk}/").status_code == 404
    assert client.get(f"/crm/deals/{deal.pk}/edit/").status_code == 404
    assert client.post(f"/crm/deals/{deal.pk}/note/", {"text": "x"}).status_code == 404


def test_the_deal_page_opens_for_a_manager(client: Client, deal: Deal, manager: User) -> None:
    client.force_login(manager)
    assert client.get(f"/crm/deals/{deal.pk}/").status_code == 200


def test_the_deal_page_is_not_found_for_an_outsider(
    client: Client, deal: Deal, outsider: User
) -> None:
    client.force_login(outsider)
    assert client.get(f"/crm/deals/{deal.pk}/").status_code == 404
    page = client.get("/crm/deals/").content.decode()
    assert deal.title not in page


def test_an_anonymous_visitor_is_sent_to_the_login_page(client: Client, deal: Deal) -> None:
    response = client.get(f"/crm/deals/{deal.pk}/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_invoice_page_is_not_found_for_a_colleague(
    client: Client, deal: Deal, colleague: User
) -> None:
    invoice = factories.make_invoice(deal)
    client.force_login(colleague)
    assert client.get(f"/crm/invoices/{invoice.pk}/").status_code == 404
    assert client.get(f"/crm/invoices/{invoice.pk}/print/").status_code == 404


def test_company_pages_are_forbidden_to_employees(client: Client, sender: User) -> None:
    client.force_login(sender)
    assert client.get("/crm/companies/").status_code == 403
    assert client.get("/crm/stages/").status_code == 403


def test_counterparty_pages_are_forbidden_to_outsiders(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/crm/counterparties/new/").status_code == 403
    assert client.get("/crm/deals/new/").status_code == 403
