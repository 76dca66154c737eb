"""Card actions from the board: remind, signing link, cancel, retry, download, open.
Each one for the sender (responsible), a colleague, a manager and an outsider."""

import pytest
from django.test import Client

from crm.models import DealEvent
from signing.models import Envelope, Message

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _as(client: Client, user) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client


def _actions(envelope: Envelope) -> dict[str, tuple[str, str, dict[str, str]]]:
    failed = Message.objects.filter(envelope=envelope).first()
    return {
        "card": ("get", f"/board/cards/{envelope.pk}/", {}),
        "remind": ("post", f"/board/cards/{envelope.pk}/remind/", {}),
        "link": ("get", f"/board/cards/{envelope.pk}/link/", {}),
        "retry": ("post", f"/board/cards/{envelope.pk}/messages/{failed.pk}/retry/", {}),
        "cancel": ("post", f"/board/cards/{envelope.pk}/cancel/", {"reason": "Wrong file"}),
    }


@pytest.mark.parametrize("action", ["card", "remind", "link", "retry", "cancel"])
def test_a_colleague_and_an_outsider_get_404_on_every_card_action(
    client, sent_envelope, colleague, outsider, action
):
    method, url, data = _actions(sent_envelope)[action]
    for user in (colleague, outsider):
        response = getattr(_as(client, user), method)(url, data, **HX)
        assert response.status_code == 404, (user, action)
    client.logout()
    response = getattr(client, method)(url, data)
    assert response.status_code == 302 and "/login/" in response["Location"]
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_COMPANY
    assert sent_envelope.reminders_sent == 0


@pytest.mark.parametrize("who", ["sender", "manager"])
def test_the_responsible_employee_and_a_manager_remind_from_the_card(
    client, sent_envelope, request, who
):
    user = request.getfixturevalue(who)
    before = Message.objects.filter(envelope=sent_envelope).count()
    response = _as(client, user).post(f"/board/cards/{sent_envelope.pk}/remind/", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith("\n<article") or "<article" in html[:200]
    assert "Reminder queued: Email to claire.dubois@atelier-lumiere.fr." in html
    assert Message.objects.filter(envelope=sent_envelope).count() == before + 1
    reminder = Message.objects.filter(envelope=sent_envelope).latest("id")
    assert reminder.template == Message.Template.REMINDER
    assert f'data-message="{reminder.pk}"' in html
    # Twice within the hour: refused with a message on the card, nothing queued.
    response = client.post(f"/board/cards/{sent_envelope.pk}/remind/", **HX)
    assert "less than an hour ago" in response.content.decode()
    assert Message.objects.filter(envelope=sent_envelope).count() == before + 1


def test_remind_works_without_javascript_and_returns_to_the_filtered_board(
    client, sender, sent_envelope
):
    response = _as(client, sender).post(
        f"/board/cards/{sent_envelope.pk}/remind/", {"next": "/board/?q=Facture"}
    )
    assert response.status_code == 302 and response["Location"] == "/board/?q=Facture"
    response = client.post(
        f"/board/cards/{sent_envelope.pk}/remind/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/board/"


@pytest.mark.parametrize("who", ["sender", "manager"])
def test_the_signing_link_is_given_for_the_party_whose_turn_it_is(
    client, sent_envelope, request, who
):
    user = request.getfixturevalue(who)
    html = _as(client, user).get(f"/board/cards/{sent_envelope.pk}/link/", **HX).content.decode()
    invitation = Message.objects.get(envelope=sent_envelope, template="invitation")
    assert "/s/" in html and 'data-copy="#link-input-' in html
    from tests.signing.conftest import link_token

    assert link_token(invitation) in html
    page = client.get(f"/board/cards/{sent_envelope.pk}/link/")
    assert "<html" in page.content.decode()


@pytest.mark.parametrize("who", ["sender", "manager"])
def test_cancel_from_the_card_moves_it_to_not_signed_and_tells_the_deal(
    client, sent_envelope, request, who
):
    user = request.getfixturevalue(who)
    response = _as(client, user).post(
        f"/board/cards/{sent_envelope.pk}/cancel/", {"reason": "Wrong file"}, **HX
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "board-changed"
    assert 'data-status="cancelled"' in response.content.decode()
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.CANCELLED
    assert sent_envelope.closed_reason == "Wrong file"
    assert DealEvent.objects.filter(deal=sent_envelope.deal, kind="cancelled").exists()
    html = client.get("/board/").content.decode()
    column = html.split('data-column="not_signed"')[1].split("</section>")[0]
    assert f'id="card-{sent_envelope.pk}"' in column and "Wrong file" in column


def test_cancel_needs_a_reason(client, sender, sent_envelope):
    response = _as(client, sender).post(
        f"/board/cards/{sent_envelope.pk}/cancel/", {"reason": " "}, **HX
    )
    assert "Give a reason" in response.content.decode()
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_COMPANY


@pytest.mark.parametrize("who", ["sender", "manager"])
def test_a_failed_message_is_obvious_and_retried_from_the_card(
    client, sent_envelope, request, who, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(who)
    message = Message.objects.get(envelope=sent_envelope, template="invitation")
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, last_error="bounce")
    html = _as(client, user).get("/board/").content.decode()
    card = html.split(f'id="card-{sent_envelope.pk}"')[1].split("</article>")[0]
    assert "msg-failed" in card and f"/messages/{message.pk}/retry/" in card
    # The service queues the message again and hands it to the worker once that commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/board/cards/{sent_envelope.pk}/messages/{message.pk}/retry/", **HX
        )
    assert response.status_code == 200
    assert "The message was queued again." in response.content.decode()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT  # eager tasks in tests: sent at once


def test_the_download_link_shows_only_for_a_sealed_document(client, sender, sent_envelope):
    html = _as(client, sender).get("/board/").content.decode()
    assert f"/envelopes/{sent_envelope.pk}/download/" not in html
    assert f"/envelopes/{sent_envelope.pk}/" in html  # open
