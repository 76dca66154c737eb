"""Declining closes the envelope for everyone: like signing, it needs the code confirmed in the
signer's own browser. A link alone (forwarded, seen in a mailbox) must not decline."""

import pytest
from django.test import Client
from django.utils import timezone

from signing import services
from signing.models import Envelope, Event, Message, Party
from tests.security.conftest import World
from tests.signing.conftest import sign_with_code

pytestmark = pytest.mark.django_db

REFUSAL = "Confirm the code we sent you before declining."


def _still_open(world: World) -> None:
    world.envelope.refresh_from_db()
    world.party.refresh_from_db()
    assert world.envelope.status == Envelope.Status.AWAITING_COMPANY
    assert world.party.status == Party.Status.ACTIVE
    assert world.party.declined_at is None
    assert not Event.objects.filter(envelope=world.envelope, type=Event.Type.DECLINED).exists()
    assert not Message.objects.filter(envelope=world.envelope, template="declined").exists()


def test_a_link_without_the_code_cannot_decline(world: World, client: Client) -> None:
    response = client.post(f"/s/{world.token}/decline/", {"reason": "Pas d'accord"}, follow=True)
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    _still_open(world)


def test_a_code_confirmed_in_another_browser_does_not_let_this_one_decline(world: World) -> None:
    sign_with_code(Client(), world.token, world.party.email)
    other = Client()
    response = other.post(f"/s/{world.token}/decline/", {"reason": "Pas d'accord"}, follow=True)
    assert REFUSAL in response.content.decode()
    _still_open(world)


def test_the_page_offers_decline_only_after_the_code(world: World) -> None:
    signer = Client()
    decline_action = f"/s/{world.token}/decline/"
    before = signer.get(f"/s/{world.token}/").content.decode()
    assert decline_action not in before
    assert "You need this code to sign and also to decline." in before
    sign_with_code(signer, world.token, world.party.email)
    assert decline_action in signer.get(f"/s/{world.token}/").content.decode()


def test_with_the_code_the_signer_declines_and_it_is_audited(world: World) -> None:
    signer = Client()
    sign_with_code(signer, world.token, world.party.email)
    response = signer.post(f"/s/{world.token}/decline/", {"reason": "Le montant est faux"})
    assert response.status_code == 302
    world.envelope.refresh_from_db()
    assert world.envelope.status == Envelope.Status.DECLINED
    assert world.envelope.closed_reason == "Le montant est faux"
    event = Event.objects.get(envelope=world.envelope, type=Event.Type.DECLINED)
    assert event.party_id == world.party.pk
    assert event.data == {"reason": "Le montant est faux"}


def test_the_service_refuses_without_the_session_flag(world: World) -> None:
    Party.objects.filter(pk=world.party.pk).update(otp_confirmed_at=timezone.now())
    with pytest.raises(services.SigningError) as refused:
        services.party_decline(
            party=world.party,
            reason="Pas d'accord",
            code_confirmed_in_session=False,
            ip=None,
            user_agent="",
        )
    assert refused.value.code == "code_required"
    _still_open(world)


def test_the_service_refuses_a_session_flag_without_a_confirmed_code(world: World) -> None:
    with pytest.raises(services.SigningError) as refused:
        services.party_decline(
            party=world.party,
            reason="Pas d'accord",
            code_confirmed_in_session=True,
            ip=None,
            user_agent="",
        )
    assert refused.value.code == "code_required"
    _still_open(world)


def test_a_french_signer_reads_the_refusal_in_french(world: World, client: Client) -> None:
    Envelope.objects.filter(pk=world.envelope.pk).update(language="fr")
    response = client.post(f"/s/{world.token}/decline/", {"reason": "Pas d'accord"}, follow=True)
    assert "Confirmez le code que nous vous avons envoyé avant de refuser." in (
        response.content.decode()
    )
    _still_open(world)
