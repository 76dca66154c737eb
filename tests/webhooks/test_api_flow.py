"""Issue 15's closing check: the whole envelope driven through the REST API (CRM records,
invoice, document from a template, create, send, both parties sign through their links, sealed
PDF and certificate downloaded and checked, as tests/api/test_flow.py does it) while a local
receiver gets every webhook, each with a valid Standard Webhooks signature."""

import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.api.conftest import api_for
from tests.api.test_flow import (
    test_it_drives_an_envelope_from_crm_records_to_the_sealed_pdf as drive_through_the_api,
)
from tests.webhooks.conftest import WHOLE_ENVELOPE, Receiver
from webhooks.models import Endpoint, WebhookDelivery

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils missing"),
]


def test_an_envelope_driven_through_the_api_sends_every_webhook_signed(
    sender: User, company, tmp_path: Path, receiver: Receiver, endpoint: Endpoint
):
    drive_through_the_api(api_for(sender), company, tmp_path)

    assert receiver.types() == WHOLE_ENVELOPE
    bodies = [request.verified(endpoint.secret) for request in receiver.requests]
    envelope_ids = {body["data"]["envelope"]["id"] for body in bodies}
    assert len(envelope_ids) == 1
    (envelope_id,) = envelope_ids
    assert {body["data"]["envelope"]["links"]["api"] for body in bodies} == {
        f"/api/v1/envelopes/{envelope_id}"
    }
    assert bodies[-1]["data"]["envelope"]["status"] == "completed"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
