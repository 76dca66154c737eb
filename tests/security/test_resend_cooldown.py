"""Resending a link to a corrected address starts the code state afresh: the new address gets a
code at once instead of waiting out the cooldown of a code sent to the old, wrong one."""

import pytest
from django.test import Client

from signing.models import Event, Message
from tests.security.conftest import World
from tests.signing.conftest import code_in, last_message, link_token

pytestmark = pytest.mark.django_db

CORRECTED = "claire.dubois@atelier-lumiere.com"


def _reissue(world: World, sender_client: Client, **data: str) -> None:
    response = sender_client.post(
        f"/envelopes/{world.envelope.pk}/parties/{world.party.pk}/reissue/",
        {"email": CORRECTED, "phone": "", "channel": "email", **data},
        follow=True,
    )
    assert response.status_code == 200
    assert "A new link was sent." in response.content.decode()


def test_the_corrected_address_gets_a_code_at_once(world: World, sender_client: Client) -> None:
    # The signer asked for a code at the wrong address; the sender corrects it a moment later.
    wrong = Client()
    assert wrong.post(f"/s/{world.token}/code/send/").status_code == 302
    assert Message.objects.filter(template="code", recipient=world.party.email).count() == 1
    _reissue(world, sender_client)

    token = link_token(last_message(template="invitation", recipient=CORRECTED))
    signer = Client()
    response = signer.post(f"/s/{token}/code/send/", follow=True)
    page = response.content.decode()
    assert "We sent you a 6-digit code." in page
    assert "You can ask for a new one in" not in page
    code = code_in(last_message(template="code", recipient=CORRECTED))
    signer.post(f"/s/{token}/code/", {"code": code})
    world.party.refresh_from_db()
    assert world.party.otp_confirmed_at is not None


def test_the_cooldown_still_applies_to_the_new_address(world: World, sender_client: Client) -> None:
    Client().post(f"/s/{world.token}/code/send/")
    _reissue(world, sender_client)
    token = link_token(last_message(template="invitation", recipient=CORRECTED))
    signer = Client()
    signer.post(f"/s/{token}/code/send/")
    again = signer.post(f"/s/{token}/code/send/", follow=True).content.decode()
    assert "You can ask for a new one in" in again
    assert Message.objects.filter(template="code", recipient=CORRECTED).count() == 1


def test_the_reissue_clears_the_old_code_and_is_audited(
    world: World, sender_client: Client
) -> None:
    Client().post(f"/s/{world.token}/code/send/")
    _reissue(world, sender_client)
    world.party.refresh_from_db()
    assert world.party.email == CORRECTED
    assert world.party.otp_hash == ""
    assert world.party.otp_sent_at is None
    assert world.party.otp_expires_at is None
    assert world.party.otp_attempts == 0
    assert world.party.otp_confirmed_at is None
    event = Event.objects.filter(envelope=world.envelope, type=Event.Type.LINK_REISSUED).get()
    assert event.party_id == world.party.pk
    assert event.data == {"channel": "email"}


def test_a_code_sent_to_the_old_address_no_longer_confirms(
    world: World, sender_client: Client
) -> None:
    wrong = Client()
    wrong.post(f"/s/{world.token}/code/send/")
    old_code = code_in(last_message(template="code", recipient=world.party.email))
    _reissue(world, sender_client)
    token = link_token(last_message(template="invitation", recipient=CORRECTED))
    signer = Client()
    page = signer.post(f"/s/{token}/code/", {"code": old_code}, follow=True).content.decode()
    assert "Ask for a code first." in page
    world.party.refresh_from_db()
    assert world.party.otp_confirmed_at is None
