import datetime
from decimal import Decimal

from crm.models import Deal, Invoice
from crm.services import LineData, invoice_create
from tests import factories


def _line(quantity: str, price: str, rate: str) -> LineData:
    return {
        "description": "Ligne",
        "quantity": Decimal(quantity),
        "unit": "u",
        "unit_price": Decimal(price),
        "vat_rate": Decimal(rate),
    }


def test_three_lines_at_20_and_5_5_percent_agree_to_the_cent(deal: Deal) -> None:
    invoice = invoice_create(
        deal=deal,
        lines=[
            _line("3", "33.33", "20"),  # 99.99
            _line("1.5", "19.99", "20"),  # 29.985 -> 29.99
            _line("7", "2.15", "5.5"),  # 15.05
        ],
        issue_date=datetime.date(2026, 3, 2),
        due_date=datetime.date(2026, 4, 1),
    )
    totals = invoice.totals()
    # 20 %: base 129.98 -> 25.996 -> 26.00; 5.5 %: base 15.05 -> 0.82775 -> 0.83.
    assert totals == {
        "net": Decimal("145.03"),
        "vat": Decimal("26.83"),
        "gross": Decimal("171.86"),
    }
    assert totals["net"] + totals["vat"] == totals["gross"]


def test_the_vat_breakdown_per_rate_adds_up_to_the_totals(deal: Deal) -> None:
    invoice = factories.make_invoice(
        deal,
        lines=[
            ("Conception", "1", "4500.00", "20"),
            ("Enseigne", "2", "1249.99", "20"),
            ("Livrets", "40", "12.45", "5.5"),
        ],
    )
    rows = invoice.vat_breakdown()
    assert [(r["rate"], r["base"], r["vat"]) for r in rows] == [
        (Decimal("20"), Decimal("6999.98"), Decimal("1400.00")),
        (Decimal("5.5"), Decimal("498.00"), Decimal("27.39")),
    ]
    totals = invoice.totals()
    assert sum(r["vat"] for r in rows) == totals["vat"] == Decimal("1427.39")
    assert totals["gross"] == Decimal("8925.37")


def test_half_a_cent_is_rounded_away_from_zero(deal: Deal) -> None:
    invoice = factories.make_invoice(deal, lines=[("x", "1", "0.25", "10")])
    # 0.025 VAT -> 0.03 (half up), never banker's rounding to 0.02.
    assert invoice.totals()["vat"] == Decimal("0.03")


def test_totals_are_decimals_never_floats(deal: Deal) -> None:
    invoice = factories.make_invoice(deal)
    assert all(isinstance(v, Decimal) for v in invoice.totals().values())


def test_the_invoice_page_shows_the_same_totals_as_the_database(
    client: object, deal: Deal, sender: object
) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    invoice = factories.make_invoice(
        deal,
        lines=[("A", "3", "33.33", "20"), ("B", "1.5", "19.99", "20"), ("C", "7", "2.15", "5.5")],
    )
    client.force_login(sender)  # type: ignore[arg-type]
    page = client.get(f"/crm/invoices/{invoice.pk}/").content.decode()
    assert "€145.03" in page and "€26.83" in page and "€171.86" in page
    assert Invoice.objects.get(pk=invoice.pk).totals()["gross"] == Decimal("171.86")


def test_a_draft_invoice_is_edited_in_place_and_keeps_its_number(
    client: object, deal: Deal, sender: object
) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    invoice = invoice_create(
        deal=deal,
        lines=[_line("1", "100", "20"), _line("2", "10", "5.5")],
        issue_date=datetime.date(2026, 3, 2),
        due_date=datetime.date(2026, 4, 1),
    )
    client.force_login(sender)  # type: ignore[arg-type]
    form = client.get(f"/crm/invoices/{invoice.pk}/edit/")
    assert form.context["formset"].initial[1]["vat_rate"] == "5.5"
    data = {
        "issue_date": "2026-03-05",
        "due_date": "2026-04-05",
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Forfait",
        "lines-0-quantity": "1",
        "lines-0-unit": "",
        "lines-0-unit_price": "250",
        "lines-0-vat_rate": "20",
    }
    response = client.post(f"/crm/invoices/{invoice.pk}/edit/", data)
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.number == "F-2026-00001"
    assert invoice.totals()["gross"] == Decimal("300.00")
    assert Invoice.objects.count() == 1


def test_an_issued_invoice_cannot_be_edited(client: object, deal: Deal, sender: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    invoice = factories.make_invoice(deal)  # issued
    client.force_login(sender)  # type: ignore[arg-type]
    response = client.get(f"/crm/invoices/{invoice.pk}/edit/")
    assert response.status_code == 302
