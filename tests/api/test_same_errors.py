"""One error hierarchy: the same failure gives the same code and message on the page and in
the JSON API, and a rule about an object's state is a 409 there."""

import pytest
from django.test import Client

from crm.models import Deal, Invoice
from tests import factories
from tests.api.conftest import Api
from tests.api.test_envelopes import _sent
from tests.crm.test_bad_input import _invoice_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(company, sender) -> Deal:  # type: ignore[no-untyped-def]
    return factories.make_deal(company=company, responsible=sender)


def test_a_due_date_before_the_issue_date_has_one_code(
    client: Client, sender, sender_api: Api, deal: Deal
) -> None:
    client.force_login(sender)
    data = _invoice_post()
    data["due_date"] = "2026-03-01"
    page = client.post(f"/crm/deals/{deal.pk}/invoices/new/", data, HTTP_ACCEPT_LANGUAGE="en")
    [page_error] = page.context["form"].errors.as_data()["due_date"]
    api = sender_api.post(
        "/invoices",
        {
            "deal_id": deal.pk,
            "issue_date": "2026-03-02",
            "due_date": "2026-03-01",
            "lines": [
                {"description": "Conception", "quantity": "1", "unit_price": "10", "vat_rate": "20"}
            ],
        },
    )
    assert api.status_code == 400
    error = api.json()["error"]
    assert error["code"] == page_error.code == "due_date"
    assert error["fields"] == {"due_date": [page_error.messages[0]]}
    assert not Invoice.objects.exists()


def test_cancelling_twice_is_the_same_conflict_on_the_page_and_in_the_api(
    sender_client: Client, sender_api: Api
) -> None:
    envelope = _sent(sender_api)
    path = f"/envelopes/{envelope['id']}"
    assert sender_api.post(f"{path}/cancel", {"reason": "Wrong amount"}).status_code == 200
    api = sender_api.post(f"{path}/cancel", {"reason": "Again"})
    assert api.status_code == 409
    error = api.json()["error"]
    assert error["code"] == "not_cancellable"
    page = sender_client.post(
        f"{path}/cancel/", {"reason": "Again"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert [str(m) for m in page.context["messages"]] == [error["message"]]


def test_an_invoice_state_rule_is_a_conflict(sender_api: Api, deal: Deal) -> None:
    from crm.services import invoice_set_status
    from signflow.errors import Conflict

    invoice = factories.make_invoice(deal)  # issued
    with pytest.raises(Conflict) as refused:
        invoice_set_status(invoice=invoice, status=Invoice.Status.DRAFT)
    assert refused.value.status == 409 and refused.value.code == "transition"
