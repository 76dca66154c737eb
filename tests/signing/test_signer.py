"""The signer's side: order, codes, links, decline, exactly-once messages."""

import datetime
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from signing import images, services
from signing.audit import chain_check
from signing.models import Envelope, Event, Message, Party
from tests.signing.conftest import (
    code_in,
    last_message,
    link_token,
    party,
    sign_with_code,
    stamp_png,
)

pytestmark = pytest.mark.django_db

DIRECTOR = "claire.dubois@atelier-lumiere.fr"
CLIENT_PHONE = "+33698765432"


def _director_token(envelope: Envelope) -> str:
    return link_token(last_message(template="invitation", recipient=DIRECTOR))


def _sign(client: Client, token: str, name: str = "Claire Dubois"):
    return client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": name,
            "consent": "1",
            "stamp-method": "uploaded",
            "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
        },
        follow=True,
    )


def test_the_client_has_no_link_before_the_company_signed(sent_envelope: Envelope):
    client_party = party(sent_envelope, "client")
    assert client_party.status == Party.Status.WAITING
    assert client_party.token_hash == ""
    assert not Message.objects.filter(recipient=CLIENT_PHONE).exists()


def test_a_made_up_or_truncated_link_says_it_is_not_valid(sent_envelope: Envelope):
    token = _director_token(sent_envelope)
    for bad in ["nope", token[:-3]]:
        response = Client().get(f"/s/{bad}/")
        assert response.status_code == 404


def test_signing_needs_the_code_first(sent_envelope: Envelope, django_capture_on_commit_callbacks):
    signer = Client()
    token = _director_token(sent_envelope)
    signer.get(f"/s/{token}/")
    response = _sign(signer, token)
    assert "Confirm the code" in response.content.decode()
    assert party(sent_envelope, "company").status == Party.Status.ACTIVE


def test_a_wrong_code_is_refused_and_counted_then_blocks_after_five(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    signer = Client()
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        signer.post(f"/s/{token}/code/send/")
    for attempt in range(5):
        response = signer.post(
            f"/s/{token}/code/", {"code": "000000" if attempt % 2 else "999999"}, follow=True
        )
    assert "Too many wrong codes" in response.content.decode()
    good = code_in(last_message(template="code", recipient=DIRECTOR))
    response = signer.post(f"/s/{token}/code/", {"code": good}, follow=True)
    assert "Too many wrong codes" in response.content.decode()
    director = party(sent_envelope, "company")
    assert director.otp_confirmed_at is None
    assert Event.objects.filter(envelope=sent_envelope, type="code_failed").count() == 5


def test_a_code_expires_after_five_minutes(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    signer = Client()
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        signer.post(f"/s/{token}/code/send/")
    code = code_in(last_message(template="code", recipient=DIRECTOR))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        response = signer.post(f"/s/{token}/code/", {"code": code}, follow=True)
    assert "expired" in response.content.decode()
    assert party(sent_envelope, "company").otp_confirmed_at is None


def test_a_new_code_waits_for_the_cooldown(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    signer = Client()
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        signer.post(f"/s/{token}/code/send/")
        response = signer.post(f"/s/{token}/code/send/", follow=True)
    assert "You can ask for a new one" in response.content.decode()
    assert Message.objects.filter(template="code").count() == 1
    later = timezone.now() + datetime.timedelta(seconds=61)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        signer.post(f"/s/{token}/code/send/")
    assert Message.objects.filter(template="code").count() == 2


def test_the_code_confirmation_belongs_to_the_browser_that_typed_it(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(Client(), token, DIRECTOR)
    other_browser = Client()
    response = _sign(other_browser, token)
    assert "Confirm the code" in response.content.decode()


def test_it_refuses_to_sign_without_consent_or_without_a_signature(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    signer = Client()
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(signer, token, DIRECTOR)
    response = signer.post(
        f"/s/{token}/sign/", {"signature-method": "typed", "signature-typed": "Claire"}, follow=True
    )
    assert "Accept the terms" in response.content.decode()
    response = signer.post(
        f"/s/{token}/sign/",
        {"signature-method": "typed", "signature-typed": "  ", "consent": "1"},
        follow=True,
    )
    assert "Type your name" in response.content.decode()
    response = signer.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "drawn",
            "signature-drawn": "data:image/png;base64,AAAA",
            "consent": "1",
        },
        follow=True,
    )
    assert "could not be read" in response.content.decode()
    assert party(sent_envelope, "company").status == Party.Status.ACTIVE
    assert not sent_envelope.parties.get(role="company").values.exists()


def test_the_company_signs_then_the_client_is_invited_exactly_once(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    signer = Client()
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(signer, token, DIRECTOR)
        response = _sign(signer, token)
    assert response.status_code == 200
    assert "You have signed this document" in response.content.decode()
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_CLIENT
    invitations = Message.objects.filter(template="invitation", recipient=CLIENT_PHONE)
    assert invitations.count() == 1
    assert invitations.get().status == Message.Status.SENT

    # The director's link no longer signs: a second submit changes nothing.
    again = _sign(signer, token)
    assert "already signed" in again.content.decode() or "You have signed" in again.content.decode()
    assert Event.objects.filter(envelope=sent_envelope, type="signed").count() == 1
    assert Message.objects.filter(template="invitation", recipient=CLIENT_PHONE).count() == 1


def test_decline_closes_the_envelope_and_tells_the_sender(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    signer = Client()
    token = _director_token(sent_envelope)
    sign_with_code(signer, token, DIRECTOR)  # declining, like signing, needs the code
    response = signer.post(f"/s/{token}/decline/", {"reason": ""}, follow=True)
    assert "why you decline" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        signer.post(f"/s/{token}/decline/", {"reason": "Le montant est faux"})
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.DECLINED
    assert sent_envelope.closed_reason == "Le montant est faux"
    assert (
        Message.objects.filter(
            template="declined", recipient=sent_envelope.responsible.email
        ).count()
        == 1
    )
    response = Client().get(f"/s/{token}/")
    assert response.status_code == 410
    assert "declined" in response.content.decode()


def test_after_cancel_the_link_says_so(sent_envelope: Envelope, django_capture_on_commit_callbacks):
    token = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        services.envelope_cancel(
            envelope=sent_envelope, actor=sent_envelope.responsible, reason="Erreur de TVA"
        )
    response = Client().get(f"/s/{token}/")
    assert response.status_code == 410
    assert "cancelled" in response.content.decode()
    assert Message.objects.filter(template="cancelled", recipient=DIRECTOR).count() == 1


def test_after_the_deadline_the_link_is_dead_and_the_envelope_expires(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    token = _director_token(sent_envelope)
    later = timezone.now() + datetime.timedelta(days=31)
    with time_machine.travel(later):
        assert Client().get(f"/s/{token}/").status_code == 410
        with django_capture_on_commit_callbacks(execute=True):
            assert services.expire_due() == 1
            assert services.expire_due() == 0
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.EXPIRED
    assert Message.objects.filter(template="expired", recipient=DIRECTOR).count() == 1


def test_a_reissued_link_replaces_the_old_one(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    old = _director_token(sent_envelope)
    with django_capture_on_commit_callbacks(execute=True):
        services.party_reissue(
            party=party(sent_envelope, "company"),
            actor=sent_envelope.responsible,
            email="c.dubois@atelier-lumiere.fr",
        )
    assert Client().get(f"/s/{old}/").status_code == 404
    new = link_token(last_message(template="invitation", recipient="c.dubois@atelier-lumiere.fr"))
    assert Client().get(f"/s/{new}/").status_code == 200


def test_reminders_follow_the_policy_with_a_frozen_clock(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    # The send form asks for a reminder every 3 days, 3 at most.
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(start + datetime.timedelta(days=2)):
            assert services.reminders_due() == 0
        for day in (3, 6, 9, 12, 15):
            with time_machine.travel(start + datetime.timedelta(days=day, minutes=1)):
                services.reminders_due()
    reminders = Message.objects.filter(template="reminder", recipient=DIRECTOR)
    assert reminders.count() == 3
    # The reminder carries the same link as the invitation.
    assert link_token(reminders.earliest("id")) == _director_token(sent_envelope)


def test_remind_now_respects_a_cooldown(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.envelope_remind(envelope=sent_envelope, actor=sent_envelope.responsible)
    with pytest.raises(services.SigningError) as exc:
        services.envelope_remind(envelope=sent_envelope, actor=sent_envelope.responsible)
    assert exc.value.code == "remind_cooldown"


def test_the_audit_chain_detects_an_edited_row(sent_envelope: Envelope):
    assert chain_check(envelope=sent_envelope).ok
    event = sent_envelope.events.order_by("id")[1]
    Event.objects.filter(pk=event.pk).update(data={"forged": True})
    report = chain_check(envelope=sent_envelope)
    assert not report.ok
    assert report.first_broken_id == event.pk


def test_the_audit_chain_detects_a_deleted_row(sent_envelope: Envelope):
    event = sent_envelope.events.order_by("id")[1]
    Event.objects.filter(pk=event.pk).delete()
    report = chain_check(envelope=sent_envelope)
    assert not report.ok


def _siret_field(envelope: Envelope, *, role: str):  # type: ignore[no-untyped-def]
    from documents.models import Field

    return Field.objects.create(
        document=envelope.document,
        key=f"{role}-siret",
        kind="crm",
        role=role,
        page=1,
        x=50,
        y=50,
        width=150,
        height=20,
        label="SIRET",
        crm_attribute="siret",
        required=True,
    )


def _sign_through_services(signer: Party, recipient: str, extra: dict | None = None) -> None:
    """Code, then signature and stamp fields filled with a typed signature, plus `extra`."""
    signer.refresh_from_db()
    services.otp_send(party=signer, ip=None, user_agent="")
    code = code_in(last_message(template="code", recipient=recipient))
    services.otp_confirm(party=signer, code=code, ip=None, user_agent="")
    signature = services.SubmittedValue(image=images.typed_signature(signer.name), method="typed")
    values = dict(extra or {})
    for field in signer.envelope.document.fields.filter(
        role=signer.role, kind__in=["signature", "stamp"]
    ):
        values[field.pk] = signature
    signer.refresh_from_db()
    services.party_sign(
        party=signer,
        values=values,
        consent=True,
        code_confirmed_in_session=True,
        ip=None,
        user_agent="",
    )


def test_a_crm_field_filled_by_the_client_is_written_back_to_the_counterparty(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    field = _siret_field(sent_envelope, role="client")
    with django_capture_on_commit_callbacks(execute=True):
        _sign_through_services(party(sent_envelope, "company"), DIRECTOR)
        _sign_through_services(
            party(sent_envelope, "client"),
            CLIENT_PHONE,
            {field.pk: services.SubmittedValue(text="552 100 554 00005")},
        )
    counterparty = sent_envelope.counterparty
    counterparty.refresh_from_db()
    assert counterparty.siret == "55210055400005"
    assert sent_envelope.deal.timeline.filter(kind="write_back").exists()


def test_an_invalid_crm_value_refuses_the_signature_and_saves_nothing(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    director = party(sent_envelope, "company")
    field = _siret_field(sent_envelope, role="company")
    with (
        pytest.raises(services.SigningError) as exc,
        django_capture_on_commit_callbacks(execute=True),
    ):
        _sign_through_services(director, DIRECTOR, {field.pk: services.SubmittedValue(text="123")})
    assert exc.value.code == "field_invalid"
    director.refresh_from_db()
    assert director.status == Party.Status.ACTIVE
    assert not director.values.exists()


def test_a_delivered_code_is_scrubbed_from_the_outbox_in_production(
    sent_envelope: Envelope, settings, django_capture_on_commit_callbacks
):
    settings.SIGNFLOW_DEV_OUTBOX = False
    with django_capture_on_commit_callbacks(execute=True):
        services.otp_send(party=party(sent_envelope, "company"), ip=None, user_agent="")
    message = Message.objects.get(template="code")
    assert message.status == Message.Status.SENT
    assert not re.search(r"\b\d{6}\b", message.body + message.subject)
    from django.core import mail

    assert re.search(r"\b\d{6}\b", mail.outbox[-1].body)


def test_the_sweep_requeues_a_message_whose_worker_died_but_not_one_being_sent(
    sent_envelope: Envelope,
):
    from signing import notifications

    old = timezone.now() - datetime.timedelta(minutes=30)
    invitation = Message.objects.get(template="invitation")
    Message.objects.filter(pk=invitation.pk).update(status=Message.Status.SENDING, claimed_at=old)
    fresh = Message.objects.create(
        envelope=sent_envelope,
        channel="email",
        recipient="x@example.com",
        template="reminder",
        body="b",
        status=Message.Status.SENDING,
        claimed_at=timezone.now(),
    )
    Message.objects.filter(pk=fresh.pk).update(created_at=old)
    notifications.sweep()
    assert Message.objects.get(pk=invitation.pk).status == Message.Status.SENT
    assert Message.objects.get(pk=fresh.pk).status == Message.Status.SENDING


def test_the_director_sees_the_company_stamp_through_the_link_and_the_client_does_not(
    sent_envelope: Envelope, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    company = sent_envelope.company
    company.default_stamp.save("cachet.png", ContentFile(stamp_png()))
    token = _director_token(sent_envelope)
    director = Client()
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(director, token, DIRECTOR)
    page = director.get(f"/s/{token}/").content.decode()
    assert f"/s/{token}/stamp.png" in page
    response = Client().get(f"/s/{token}/stamp.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert Client().get("/s/not-a-token/stamp.png").status_code == 404
