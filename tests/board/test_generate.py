"""`generate_envelopes` fills every stage with consistent rows."""

import pytest
from django.core.management import call_command

from documents.models import Document
from signing.models import Envelope, Message, Party

pytestmark = pytest.mark.django_db


def test_it_generates_envelopes_across_stages_employees_and_clients(manager):
    call_command("generate_envelopes", count=300, batch=120, employees=4, counterparties=15)
    assert Envelope.objects.count() == 300
    assert Document.objects.count() == 300
    statuses = set(Envelope.objects.values_list("status", flat=True))
    assert {"draft", "awaiting_company", "awaiting_client", "completed", "declined"} <= statuses
    assert Envelope.objects.values("responsible").distinct().count() == 4
    assert Envelope.objects.values("counterparty").distinct().count() > 5
    assert not Envelope.objects.filter(status_changed_at=None).exists()
    assert not Envelope.objects.exclude(status="draft").filter(sent_at=None).exists()
    assert not Envelope.objects.filter(status="completed", completed_at=None).exists()
    open_envelopes = Envelope.objects.filter(status__in=Envelope.OPEN_STATUSES)
    assert (
        Party.objects.filter(envelope__in=open_envelopes, status="active").count()
        == open_envelopes.count()
    )
    assert Message.objects.filter(status="failed").exists()
    created = Envelope.objects.order_by("created_at")
    assert (created.last().created_at - created.first().created_at).days > 100
