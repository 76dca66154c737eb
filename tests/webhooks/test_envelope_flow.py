"""A whole envelope through the pages while a real receiver on 127.0.0.1 gets every webhook:
sent, opened, signed (director), opened, signed (client), completed; each one signed per
Standard Webhooks and checked with the `standardwebhooks` package, in the order it happened."""

import json

import pytest
from django.test import Client

from crm.models import Invoice
from signing.models import Envelope, Party
from tests.signing.conftest import last_message, send_form
from tests.signing.test_flow import _complete
from tests.webhooks.conftest import WHOLE_ENVELOPE, Receiver
from webhooks.models import Endpoint, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

DIRECTOR = "claire.dubois@atelier-lumiere.fr"


def _send(sender_client: Client, invoice: Invoice) -> Envelope:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    response = sender_client.post(response["Location"], send_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    return Envelope.objects.get(document__invoice=invoice)


def test_the_receiver_gets_every_event_of_an_envelope_signed_and_in_order(
    sender_client: Client, invoice: Invoice, receiver: Receiver, endpoint: Endpoint
):
    # The pages, as tests/signing/test_flow.py drives them: send, director signs, client signs.
    envelope = _complete(sender_client, invoice)
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error

    assert receiver.types() == WHOLE_ENVELOPE
    bodies = [request.verified(endpoint.secret) for request in receiver.requests]
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    assert len(set(ids)) == len(ids)
    for body in bodies:
        assert body["data"]["envelope"]["id"] == envelope.pk
        assert body["data"]["envelope"]["reference"] == envelope.public_id
        assert body["data"]["envelope"]["links"]["api"] == f"/api/v1/envelopes/{envelope.pk}"
    timestamps = [body["timestamp"] for body in bodies]
    assert timestamps == sorted(timestamps)
    roles = [body["data"].get("party", {}).get("role") for body in bodies]
    assert roles == [None, "company", "company", "client", "client", None]
    assert bodies[-1]["data"]["envelope"]["status"] == "completed"
    # The request went where the endpoint's URL says, path and query kept.
    assert {r.path for r in receiver.requests} == {"/hooks/signflow?source=test"}
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests)

    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert deliveries.count() == 6
    assert set(deliveries.values_list("status", flat=True)) == {"delivered"}
    assert set(deliveries.values_list("message_id", flat=True)) == set(ids)
    # The body logged is the body sent, byte for byte.
    for request in receiver.requests:
        logged = deliveries.get(message_id=request.headers["webhook-id"])
        assert logged.payload.encode() == request.body
        assert json.loads(logged.payload)["type"] == logged.event_type


def test_an_email_provider_failure_blocks_no_webhook(
    sender_client: Client, invoice: Invoice, receiver: Receiver, endpoint: Endpoint, settings
):
    settings.EMAIL_BACKEND = "tests.webhooks.failing_mail.Backend"
    settings.SIGNFLOW_MESSAGE_MAX_ATTEMPTS = 1
    envelope = _send(sender_client, invoice)
    # The director's invitation could not be sent; the envelope went out all the same, and the
    # receiver heard both: that it was sent, and that the message failed for good.
    assert envelope.status == Envelope.Status.AWAITING_COMPANY
    assert receiver.types() == ["envelope.sent", "message.failed"]
    failed = receiver.requests[1].verified(endpoint.secret)
    assert failed["data"]["message"]["template"] == "invitation"
    assert failed["data"]["message"]["channel"] == "email"
    assert failed["data"]["party"]["role"] == Party.Role.COMPANY
    assert "provider down" in failed["data"]["message"]["error"]


def test_a_receiver_outage_blocks_no_email(
    sender_client: Client, invoice: Invoice, receiver: Receiver, endpoint: Endpoint
):
    receiver.statuses = [500] * 10
    _send(sender_client, invoice)
    invitation = last_message(template="invitation", recipient=DIRECTOR)
    assert invitation.status == "sent"
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="envelope.sent")
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 500
