"""The board: columns, counts, filters, keyset "load more", the "changed since" poll."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from signing import selectors
from signing.models import Envelope, Message
from tests.board.conftest import director_signs

pytestmark = pytest.mark.django_db


def _login(client: Client, user) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client


def _card_ids(html: str) -> list[str]:
    return re.findall(r'id="card-(\d+)"', html)


def test_the_board_renders_with_a_bounded_number_of_queries(
    client, manager, many_envelopes, django_assert_max_num_queries
):
    _login(client, manager)
    with django_assert_max_num_queries(22):
        response = client.get("/board/")
    assert response.status_code == 200
    html = response.content.decode()
    for key, _statuses in selectors.BOARD_COLUMNS:
        assert f'data-column="{key}"' in html
    assert len(_card_ids(html)) == 5 * selectors.CARDS_PER_PAGE


def test_the_list_and_the_poll_stay_bounded_too(
    client, manager, many_envelopes, django_assert_max_num_queries
):
    _login(client, manager)
    with django_assert_max_num_queries(14):
        assert client.get("/board/list/?sort=-amount&page=2").status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get("/board/changes/?v=stale").status_code == 200


def test_column_counts_and_totals_match_the_database(client, manager, many_envelopes):
    _login(client, manager)
    columns = {c["key"]: c for c in selectors.board_columns(user=manager, params={})}
    signed = Envelope.objects.filter(status__in=["sealing", "completed"])
    assert columns["signed"]["count"] == signed.count()
    assert columns["signed"]["total"] == sum(e.amount or Decimal(0) for e in signed)
    assert sum(c["count"] for c in columns.values()) == many_envelopes


def test_an_employee_sees_only_their_envelopes(client, sender, manager, many_envelopes):
    _login(client, sender)
    columns = selectors.board_columns(user=sender, params={"responsible": str(manager.pk)})
    assert sum(c["count"] for c in columns) == Envelope.objects.filter(responsible=sender).count()
    html = client.get("/board/").content.decode()
    shown = {int(pk) for pk in _card_ids(html)}
    assert shown
    assert set(Envelope.objects.filter(pk__in=shown).values_list("responsible", flat=True)) == {
        sender.pk
    }


def test_a_manager_sees_everyone_and_filters_by_employee(
    client, manager, colleague, many_envelopes
):
    _login(client, manager)
    everyone = sum(c["count"] for c in selectors.board_columns(user=manager, params={}))
    assert everyone == many_envelopes
    html = client.get(f"/board/?responsible={colleague.pk}").content.decode()
    shown = {int(pk) for pk in _card_ids(html)}
    assert set(Envelope.objects.filter(pk__in=shown).values_list("responsible", flat=True)) == {
        colleague.pk
    }


def test_an_outsider_sees_an_empty_board_and_a_visitor_must_log_in(
    client, outsider, many_envelopes
):
    assert client.get("/board/")["Location"].startswith("/login/")
    _login(client, outsider)
    html = client.get("/board/").content.decode()
    assert _card_ids(html) == []


def test_filters_narrow_the_board(client, manager, many_envelopes):
    envelope = Envelope.objects.exclude(counterparty=None).first()
    assert envelope is not None
    checks = {
        f"counterparty={envelope.counterparty_id}": lambda e: (
            e.counterparty_id == envelope.counterparty_id
        ),
        "amount_min=1000&amount_max=2000": lambda e: Decimal(1000) <= e.amount <= Decimal(2000),
        f"company={envelope.company_id}": lambda e: e.company_id == envelope.company_id,
        "overdue=1": lambda e: e.is_open and e.deadline < timezone.now(),
        "q=devis": lambda e: "devis" in e.title.lower(),
    }
    for query, holds in checks.items():
        columns = selectors.board_columns(
            user=manager, params=dict(p.split("=") for p in query.split("&"))
        )
        envelopes = [card.envelope for column in columns for card in column["cards"]]
        assert envelopes, query
        assert all(holds(envelope) for envelope in envelopes), query


def test_the_period_filter_uses_creation_dates(manager, many_envelopes):
    envelope = Envelope.objects.order_by("created_at").first()
    day = timezone.localtime(envelope.created_at).date()
    params = {"created_from": day.isoformat(), "created_to": day.isoformat()}
    columns = selectors.board_columns(user=manager, params=params)
    envelopes = [card.envelope for column in columns for card in column["cards"]]
    assert envelope in envelopes
    assert all(timezone.localtime(e.created_at).date() == day for e in envelopes)


def test_needs_my_action_lists_my_open_envelopes_with_a_failed_message_or_near_deadline(
    client, sender, sent_envelope
):
    params = {"mine": "1"}
    assert sum(c["count"] for c in selectors.board_columns(user=sender, params=params)) == 0
    Message.objects.filter(envelope=sent_envelope).update(status=Message.Status.FAILED)
    assert sum(c["count"] for c in selectors.board_columns(user=sender, params=params)) == 1
    Message.objects.filter(envelope=sent_envelope).update(status=Message.Status.SENT)
    Envelope.objects.filter(pk=sent_envelope.pk).update(
        deadline=timezone.now() + timedelta(hours=5)
    )
    html = client.get("/board/?mine=1").content.decode()
    assert f'id="card-{sent_envelope.pk}"' in html
    assert "alert" in html.split(f'id="card-{sent_envelope.pk}"')[0].rsplit("<article", 1)[1]


def test_a_reminder_due_counts_as_needing_action(sender, sent_envelope):
    Envelope.objects.filter(pk=sent_envelope.pk).update(
        status_changed_at=timezone.now() - timedelta(days=4), reminder_every_days=3
    )
    columns = selectors.board_columns(user=sender, params={"mine": "1"})
    assert [c.envelope.pk for column in columns for c in column["cards"]] == [sent_envelope.pk]
    assert columns[1]["cards"][0].reminder_due


def test_load_more_walks_a_column_without_gaps_or_repeats(client, manager, many_envelopes):
    _login(client, manager)
    expected = Envelope.objects.filter(status__in=["sealing", "completed"]).count()
    html = client.get("/board/").content.decode()
    column = html.split('data-column="signed"')[1].split("</section>")[0]
    seen = _card_ids(column)
    url = re.search(r'href="(/board/columns/signed/[^"]+)"', column).group(1).replace("&amp;", "&")
    while url:
        fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        seen += _card_ids(fragment)
        more = re.search(r'href="(/board/columns/signed/[^"]+)"', fragment)
        url = more.group(1).replace("&amp;", "&") if more else ""
    assert len(seen) == len(set(seen)) == expected


def test_load_more_works_without_javascript(client, manager, many_envelopes):
    _login(client, manager)
    response = client.get("/board/columns/signed/")
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert client.get("/board/columns/nope/").status_code == 404


def test_the_poll_answers_204_until_a_signer_signs(client, sender, sent_envelope):
    _login(client, sender)
    html = client.get("/board/").content.decode()
    poll = re.search(r'id="board-poll" hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    response = client.get(poll, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["ETag"]

    director_signs(sent_envelope)

    response = client.get(poll, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    # Only the two columns that changed come back, out of band; the others are left alone.
    assert 'id="column-awaiting_company"' in body
    assert 'id="column-awaiting_client"' in body
    assert 'id="column-signed"' not in body and 'id="column-draft"' not in body
    assert body.count('hx-swap-oob="outerHTML"') == 3  # two columns and the poller
    client_column = body.split('id="column-awaiting_client"')[1]
    assert f'id="card-{sent_envelope.pk}"' in client_column
    new_poll = re.search(r'id="board-poll" hx-get="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert client.get(new_poll, HTTP_HX_REQUEST="true").status_code == 204


def test_a_card_shows_what_a_sender_needs(client, sender, sent_envelope):
    _login(client, sender)
    html = client.get("/board/").content.decode()
    card = html.split(f'id="card-{sent_envelope.pk}"')[1].split("</article>")[0]
    assert sent_envelope.title in card
    assert "Boulangerie Martin SARL" in card
    assert "SB" in card  # Sophie Bernard's initials
    assert "in this stage" in card
    assert "Email" in card and "Sent" in card  # the director's invitation went out
    assert f"/documents/{sent_envelope.document_id}/pages/1" in card or "size=thumb" in card
    assert 'loading="lazy"' in card
