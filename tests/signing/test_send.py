"""The send screen: prefilled from the CRM, refuses bad input and saves nothing then."""

import pytest
from django.test import Client

from crm.models import Invoice
from signing.models import Envelope, Event, Message
from tests.signing.conftest import send_form

pytestmark = pytest.mark.django_db


def _draft(sender_client: Client, invoice: Invoice) -> Envelope:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    assert response.status_code == 302
    assert response["Location"].startswith("/send/")
    return Envelope.objects.get(document__invoice=invoice)


def test_it_prefills_the_director_and_the_deal_contact(sender_client: Client, invoice: Invoice):
    envelope = _draft(sender_client, invoice)
    page = sender_client.get(f"/send/{envelope.document_id}/").content.decode()
    assert "claire.dubois@atelier-lumiere.fr" in page
    assert "Paul Martin" in page
    assert envelope.status == Envelope.Status.DRAFT
    assert envelope.amount == invoice.totals()["gross"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"company-name": ""}, "Enter the signer"),
        ({"company-email": "not-an-email"}, "valid email"),
        ({"client-phone": "", "client-channel": "sms"}, "mobile number is needed"),
        ({"client-phone": "12"}, "phone number"),
        ({"deadline_days": "0"}, "at least one day"),
        ({"deadline_days": "abc"}, "whole number"),
    ],
)
def test_it_refuses_bad_input_with_a_message_and_sends_nothing(
    sender_client: Client, invoice: Invoice, overrides: dict[str, str], message: str
):
    envelope = _draft(sender_client, invoice)
    response = sender_client.post(f"/send/{envelope.document_id}/", send_form(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.DRAFT
    assert not envelope.parties.exists()
    assert not Message.objects.exists()
    assert not envelope.document.locked


def test_it_sends_once_and_locks_the_document(
    sender_client: Client, invoice: Invoice, django_capture_on_commit_callbacks
):
    envelope = _draft(sender_client, invoice)
    with django_capture_on_commit_callbacks(execute=True):
        first = sender_client.post(f"/send/{envelope.document_id}/", send_form())
    second = sender_client.post(f"/send/{envelope.document_id}/", send_form())
    assert first.status_code == second.status_code == 302
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY
    assert envelope.document.locked
    assert Event.objects.filter(envelope=envelope, type="sent").count() == 1
    assert Message.objects.filter(envelope=envelope, template="invitation").count() == 1


def test_a_colleague_cannot_open_the_send_screen(
    client: Client, colleague, sender_client: Client, invoice: Invoice
):
    envelope = _draft(sender_client, invoice)
    client.force_login(colleague)
    assert client.get(f"/send/{envelope.document_id}/").status_code == 404
    assert client.post(f"/invoices/{invoice.pk}/send/").status_code == 404


def test_a_manager_sees_the_envelope_and_an_outsider_does_not(
    client: Client, manager, outsider, sender_client: Client, invoice: Invoice
):
    envelope = _draft(sender_client, invoice)
    client.force_login(manager)
    assert client.get(f"/envelopes/{envelope.pk}/").status_code == 200
    client.force_login(outsider)
    assert client.get(f"/envelopes/{envelope.pk}/").status_code == 404
    assert client.get("/board/").status_code == 200
    assert envelope.title not in client.get("/board/").content.decode()


def test_a_deal_can_send_an_agreement_from_a_template(sender_client: Client, invoice: Invoice):
    from documents.models import DocumentTemplate
    from documents.services import ensure_builtin_templates

    ensure_builtin_templates()
    template = DocumentTemplate.objects.get(kind="agreement", language="en", builtin=True)
    page = sender_client.get(f"/crm/deals/{invoice.deal_id}/").content.decode()
    assert f"/deals/{invoice.deal_id}/send/" in page
    response = sender_client.post(f"/deals/{invoice.deal_id}/send/", {"template": template.pk})
    assert response.status_code == 302
    envelope = Envelope.objects.get(deal=invoice.deal)
    assert response["Location"] == f"/send/{envelope.document_id}/"
    assert envelope.document.fields.filter(role="client", kind="signature").exists()
    assert sender_client.get(response["Location"]).status_code == 200


def test_a_colleague_cannot_send_from_someone_elses_deal(
    client: Client, colleague, invoice: Invoice
):
    client.force_login(colleague)
    assert client.post(f"/deals/{invoice.deal_id}/send/", {"template": 1}).status_code == 404
    assert not Envelope.objects.exists()
