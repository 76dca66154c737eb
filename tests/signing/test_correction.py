"""Correcting an envelope before its first signature (issue 12): recipients, channels, fields,
deadline and message change, the old links die, the audit trail says what changed, new
invitations go out; after the first signature only a contact correction remains."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from signing import services
from signing.audit import chain_check
from signing.models import Envelope, Event, Message, Party
from tests.signing.conftest import (
    director_ready,
    director_signs,
    last_message,
    link_token,
    party,
)


def _form(envelope: Envelope, **overrides: str) -> dict[str, str]:
    data: dict[str, str] = {"deadline_days": "10", "note": envelope.note}
    for p in envelope.parties.order_by("order"):
        prefix = f"party-{p.order}"
        data.update(
            {
                f"{prefix}-name": p.name,
                f"{prefix}-email": p.email,
                f"{prefix}-phone": p.phone,
                f"{prefix}-channel": p.channel,
            }
        )
    data.update(overrides)
    return data


def _director_token(envelope: Envelope) -> str:
    director = party(envelope, "company")
    return link_token(last_message(template="invitation", recipient=director.recipient))


@pytest.mark.django_db
def test_the_sender_corrects_recipients_channels_deadline_and_message_and_old_links_die(
    sender_client: Client, sent_envelope: Envelope, django_capture_on_commit_callbacks
) -> None:
    old_token = _director_token(sent_envelope)
    assert Client().get(f"/s/{old_token}/").status_code == 200
    page = sender_client.get(f"/envelopes/{sent_envelope.pk}/").content.decode()
    assert 'id="correct-form"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(
            f"/envelopes/{sent_envelope.pk}/correct/",
            _form(
                sent_envelope,
                **{
                    "party-1-email": "claire@atelier-lumiere.fr",
                    "party-2-email": "paul.martin@boulangerie.fr",
                    "party-2-channel": "email",
                    "deadline_days": "5",
                    "note": "Version corrigée : merci de signer.",
                },
            ),
        )
    assert response.status_code == 302
    # The old link is dead; the director gets a new one at the corrected address.
    assert Client().get(f"/s/{old_token}/").status_code == 404
    new_token = link_token(
        last_message(template="invitation", recipient="claire@atelier-lumiere.fr")
    )
    assert new_token != old_token
    assert Client().get(f"/s/{new_token}/").status_code == 200
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_COMPANY
    assert sent_envelope.note == "Version corrigée : merci de signer."
    assert timezone.now() + timedelta(days=4) < sent_envelope.deadline
    assert sent_envelope.deadline < timezone.now() + timedelta(days=6)
    client = party(sent_envelope, "client")
    assert (client.email, client.channel, client.status) == (
        "paul.martin@boulangerie.fr",
        "email",
        Party.Status.WAITING,
    )
    event = sent_envelope.events.get(type=Event.Type.CORRECTED)
    changes = event.data["changes"]
    assert changes["parties"] == [
        {"role": "company", "order": 1, "changed": ["email"]},
        {"role": "client", "order": 2, "changed": ["email", "channel"]},
    ]
    assert changes["message"] is True and "deadline" in changes
    assert chain_check(envelope=sent_envelope).ok
    page = sender_client.get(f"/envelopes/{sent_envelope.pk}/").content.decode()
    assert "Corrected" in page and "email address" in page


@pytest.mark.django_db
def test_the_sender_corrects_the_fields_while_the_links_are_paused(
    sender_client: Client, sent_envelope: Envelope, django_capture_on_commit_callbacks
) -> None:
    old_token = _director_token(sent_envelope)
    document = sent_envelope.document
    response = sender_client.post(f"/envelopes/{sent_envelope.pk}/correct/fields/")
    assert response["Location"] == f"/documents/{document.pk}/fields/"
    document.refresh_from_db()
    assert not document.locked
    assert Client().get(f"/s/{old_token}/").status_code == 404  # paused at once
    assert services.reminders_due() == 0  # nobody to remind while correcting
    response = sender_client.post(
        f"/documents/{document.pk}/fields/add/",
        {
            "kind": "text",
            "role": "client",
            "page": "1",
            "x": "60",
            "y": "300",
            "width": "150",
            "height": "24",
            "label": "Bon de commande",
            "required": "on",
        },
    )
    assert response.status_code == 302
    page = sender_client.get(f"/envelopes/{sent_envelope.pk}/").content.decode()
    assert 'id="correction-in-progress"' in page
    with django_capture_on_commit_callbacks(execute=True):
        sender_client.post(f"/envelopes/{sent_envelope.pk}/correct/", _form(sent_envelope))
    document.refresh_from_db()
    assert document.locked
    event = sent_envelope.events.get(type=Event.Type.CORRECTED)
    added = event.data["changes"]["fields"]
    assert list(added) == ["added"] and len(added["added"]) == 1
    assert document.fields.get(key=added["added"][0]).label == "Bon de commande"
    new_token = _director_token(sent_envelope)
    assert new_token != old_token
    assert Client().get(f"/s/{new_token}/").status_code == 200
    assert chain_check(envelope=sent_envelope).ok


@pytest.mark.django_db
def test_a_wrong_address_in_a_correction_changes_nothing(
    sender_client: Client, sent_envelope: Envelope
) -> None:
    token = _director_token(sent_envelope)
    response = sender_client.post(
        f"/envelopes/{sent_envelope.pk}/correct/",
        _form(sent_envelope, **{"party-1-email": "not an address", "deadline_days": "0"}),
    )
    assert response.status_code == 302
    page = sender_client.get(response["Location"]).content.decode()
    assert "error" in page
    assert party(sent_envelope, "company").email == "claire.dubois@atelier-lumiere.fr"
    assert not sent_envelope.events.filter(type=Event.Type.CORRECTED).exists()
    assert Client().get(f"/s/{token}/").status_code == 200  # the link still works
    response = sender_client.post(
        f"/envelopes/{sent_envelope.pk}/correct/",
        _form(sent_envelope, **{"party-1-email": "not an address"}),
    )
    assert party(sent_envelope, "company").email == "claire.dubois@atelier-lumiere.fr"
    assert Client().get(f"/s/{token}/").status_code == 200


@pytest.mark.django_db
def test_a_colleague_cannot_correct_and_get_cannot_either(
    sent_envelope: Envelope, colleague
) -> None:
    other = Client()
    other.force_login(colleague)
    url = f"/envelopes/{sent_envelope.pk}/correct/"
    assert other.post(url, _form(sent_envelope)).status_code in (403, 404)
    assert other.get(url).status_code in (403, 404, 405)
    assert not sent_envelope.events.filter(type=Event.Type.CORRECTED).exists()


@pytest.mark.django_db
def test_after_the_first_signature_only_the_contact_can_be_corrected(
    sender_client: Client, sent_envelope: Envelope, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        director_signs(sent_envelope)
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_CLIENT
    page = sender_client.get(f"/envelopes/{sent_envelope.pk}/").content.decode()
    assert 'id="correct-form"' not in page
    assert "Send the link again" in page  # the contact correction stays
    for url in ("correct/", "correct/fields/"):
        sender_client.post(f"/envelopes/{sent_envelope.pk}/{url}", _form(sent_envelope))
    assert not sent_envelope.events.filter(
        type__in=[Event.Type.CORRECTED, Event.Type.CORRECTION_STARTED]
    ).exists()
    assert sent_envelope.document.locked
    with pytest.raises(services.SigningError) as refused:
        services.envelope_correction_open(envelope=sent_envelope, actor=sent_envelope.responsible)
    assert refused.value.code == "already_signed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.parametrize("attempt", range(3))
def test_a_signature_racing_a_correction_one_wins(sent_envelope: Envelope, attempt: int) -> None:
    director, values = director_ready(sent_envelope)
    inputs = [
        services.PartyInput(
            role=p.role, name=p.name, email=p.email, phone=p.phone, channel=p.channel
        )
        for p in sent_envelope.parties.order_by("order")
    ]
    inputs[1].name = "Paul Martin-Durand"
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def sign() -> None:
        try:
            fresh = Party.objects.select_related("envelope").get(pk=director.pk)
            barrier.wait()
            services.party_sign(
                party=fresh,
                values=values,
                consent=True,
                code_confirmed_in_session=True,
                ip="198.51.100.1",
                user_agent="test",
            )
            outcomes["sign"] = "ok"
        except services.SigningError as exc:
            outcomes["sign"] = exc.code
        finally:
            connections.close_all()

    def correct() -> None:
        try:
            envelope = Envelope.objects.get(pk=sent_envelope.pk)
            barrier.wait()
            services.envelope_correct(
                envelope=envelope,
                actor=envelope.responsible,
                parties=inputs,
                deadline=timezone.now() + timedelta(days=9),
                note="",
            )
            outcomes["correct"] = "ok"
        except services.SigningError as exc:
            outcomes["correct"] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign), threading.Thread(target=correct)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent_envelope.refresh_from_db()
    signed = Event.objects.filter(envelope=sent_envelope, type="signed").count()
    corrected = Event.objects.filter(envelope=sent_envelope, type="corrected").count()
    if outcomes["sign"] == "ok":
        # The signature came first: the correction is refused, the client is invited.
        assert outcomes["correct"] == "already_signed", outcomes
        assert (signed, corrected) == (1, 0)
        assert sent_envelope.status == Envelope.Status.AWAITING_CLIENT
    else:
        # The correction came first: the code confirmed for the old link no longer counts.
        assert outcomes == {"sign": "code_required", "correct": "ok"}, outcomes
        assert (signed, corrected) == (0, 1)
        assert sent_envelope.status == Envelope.Status.AWAITING_COMPANY
        assert party(sent_envelope, "client").name == "Paul Martin-Durand"
    assert Message.objects.filter(envelope=sent_envelope, template="invitation").count() == 2
    assert chain_check(envelope=sent_envelope).ok
