"""Board and list filters from the query string: a value that does not parse is ignored, never
a 500 (impossible dates, ids and amounts past what the database stores)."""

import pytest


@pytest.mark.parametrize(
    "query",
    [
        "created_from=2024-02-30",
        "created_to=2024-13-01",
        "created_from=2024-00-10&created_to=0000-01-01",
        "responsible=99999999999999999999999",
        "company=-5&counterparty=2147483648",
        "amount_min=1e999999&amount_max=-1e999999",
        "amount_min=NaN&amount_max=Infinity",
    ],
)
@pytest.mark.parametrize("page", ["/board/", "/board/list/", "/board/list.csv"])
def test_a_filter_that_does_not_parse_is_ignored(client, manager, sent_envelope, page, query):
    client.force_login(manager)
    response = client.get(f"{page}?{query}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert sent_envelope.document.title.encode() in body
