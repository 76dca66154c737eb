"""Stage changes show on the related CRM deal's timeline."""

import pytest
from django.utils import timezone

from crm.models import DealEvent
from signing import services
from tests.board.conftest import director_signs

pytestmark = pytest.mark.django_db


def _kinds(envelope) -> list[str]:  # type: ignore[no-untyped-def]
    return list(DealEvent.objects.filter(deal=envelope.deal).values_list("kind", flat=True))


def test_sending_signing_and_declining_reach_the_deal_timeline(sent_envelope):
    assert "document_sent" in _kinds(sent_envelope)
    director_signs(sent_envelope)
    assert "party_signed" in _kinds(sent_envelope)
    client_party = sent_envelope.parties.get(role="client")
    client_party.otp_confirmed_at = timezone.now()  # declining needs the confirmed code
    client_party.save(update_fields=["otp_confirmed_at"])
    services.party_decline(
        party=client_party,
        reason="Prix trop élevé",
        code_confirmed_in_session=True,
        ip=None,
        user_agent="",
    )
    assert "declined" in _kinds(sent_envelope)
    text = DealEvent.objects.filter(deal=sent_envelope.deal, kind="declined").get().sentence
    assert "Prix trop élevé" in text


def test_cancelling_reaches_the_deal_timeline(sent_envelope, sender):
    services.envelope_cancel(envelope=sent_envelope, actor=sender, reason="Erreur")
    assert "cancelled" in _kinds(sent_envelope)
