"""The list view of the same envelopes: sorting, paging, CSV export."""

import csv
import io

import pytest
from django.test import Client
from django.utils import translation

from signing.models import Envelope

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_list_sorts_by_amount(client: Client, manager, many_envelopes):
    client.force_login(manager)
    response = client.get("/board/list/?sort=-amount")
    assert response.status_code == 200
    top = Envelope.objects.exclude(amount=None).order_by("-amount").first()
    html = response.content.decode()
    assert html.index(f'data-envelope="{top.public_id}"') < html.index("</tbody>")
    assert "page=2" in html


def test_the_csv_export_streams_plain_decimals_with_translated_headers(
    client: Client, manager, many_envelopes
):
    client.force_login(manager)
    rows = _csv(client.get("/board/list.csv?sort=-amount"))
    assert rows[0][0] == "Code" and "Amount" in rows[0]
    assert len(rows) == many_envelopes + 1
    amount = rows[1][rows[0].index("Amount")]
    assert (
        amount == f"{Envelope.objects.exclude(amount=None).order_by('-amount').first().amount:.2f}"
    )
    with translation.override("fr"):
        client.cookies["django_language"] = "fr"
        french = _csv(client.get("/board/list.csv", HTTP_ACCEPT_LANGUAGE="fr"))
    assert french[0][0] in {"Code", "Référence"}  # translated once the lead merges FRENCH.txt


def test_the_csv_export_respects_access(
    client: Client, sender, colleague, outsider, many_envelopes
):
    client.force_login(sender)
    rows = _csv(client.get("/board/list.csv"))
    mine = set(Envelope.objects.filter(responsible=sender).values_list("public_id", flat=True))
    assert {row[0] for row in rows[1:]} == mine
    client.force_login(outsider)
    assert len(_csv(client.get("/board/list.csv"))) == 1
    client.logout()
    assert client.get("/board/list.csv").status_code == 302


def test_the_list_respects_filters_and_access(client: Client, colleague, many_envelopes):
    client.force_login(colleague)
    html = client.get("/board/list/?q=zzz-nothing").content.decode()
    assert "No document matches these filters." in html
    html = client.get("/board/list/").content.decode()
    others = Envelope.objects.exclude(responsible=colleague).values_list("public_id", flat=True)[
        :50
    ]
    assert not any(f'data-envelope="{code}"' in html for code in others)
