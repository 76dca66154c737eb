"""The board's and the list's query counts do not depend on how many envelopes there are: no
query per card, per column or per employee creeps in (issue 17). Each page is counted with few
envelopes, then again after many more were generated, with the cache cleared both times (the
column counts recomputed) and warm (the counts cached)."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from signing.models import Envelope

pytestmark = pytest.mark.django_db

PAGES = ["/board/", "/board/list/", "/board/list/?sort=-amount&page=2", "/board/changes/?v=x"]


def _counts(client: Client, pages: list[str] = PAGES) -> dict[str, tuple[int, int]]:
    """Queries of each page: (cache cleared, cache warm)."""
    counts = {}
    for url in pages:
        cache.clear()
        with CaptureQueriesContext(connection) as cold:
            assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as warm:
            assert client.get(url).status_code == 200
        counts[url] = (len(cold), len(warm))
    return counts


def test_the_board_and_the_list_make_as_many_queries_at_300_envelopes_as_at_60(
    client: Client, manager, sender, colleague
) -> None:
    call_command("generate_envelopes", count=60, batch=60, employees=3, counterparties=10)
    client.force_login(manager)
    few = _counts(client)
    call_command("generate_envelopes", count=240, batch=120, employees=3, counterparties=10)
    assert Envelope.objects.count() >= 300
    assert _counts(client) == few


def test_an_employee_board_is_as_flat(client: Client, manager, sender, colleague) -> None:
    """An employee sees only their envelopes: a filter, not a query per envelope either (the
    list's second page is left out: with few envelopes an employee has none, and an empty page
    rightly skips the query that loads its rows)."""
    pages = [url for url in PAGES if "page=2" not in url]
    call_command("generate_envelopes", count=60, batch=60, employees=3, counterparties=10)
    client.force_login(sender)
    few = _counts(client, pages)
    call_command("generate_envelopes", count=240, batch=120, employees=3, counterparties=10)
    assert Envelope.objects.filter(responsible=sender).count() > 10
    assert _counts(client, pages) == few
