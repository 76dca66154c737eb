import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection

from crm.models import Deal, Invoice, InvoiceCounter
from crm.services import LineData, invoice_create
from tests import factories

LINES: list[LineData] = [
    {
        "description": "Prestation",
        "quantity": Decimal("1"),
        "unit": "forfait",
        "unit_price": Decimal("100"),
        "vat_rate": Decimal("20"),
    }
]


def _create(deal: Deal, day: datetime.date) -> Invoice:
    return invoice_create(
        deal=deal, lines=LINES, issue_date=day, due_date=day + datetime.timedelta(days=30)
    )


def test_invoices_are_numbered_one_after_another_per_company_and_year(deal: Deal) -> None:
    first = _create(deal, datetime.date(2026, 1, 5))
    second = _create(deal, datetime.date(2026, 6, 5))
    assert (first.number, second.number) == ("F-2026-00001", "F-2026-00002")


def test_numbering_starts_again_at_one_each_year(deal: Deal) -> None:
    _create(deal, datetime.date(2026, 12, 31))
    assert _create(deal, datetime.date(2027, 1, 1)).number == "F-2027-00001"


def test_each_own_company_has_its_own_sequence(deal: Deal, sender: object) -> None:
    other = factories.make_company(legal_name="Lumière Sud SARL", is_default=False)
    other_deal = factories.make_deal(company=other, responsible=deal.responsible)
    _create(deal, datetime.date(2026, 2, 1))
    assert _create(other_deal, datetime.date(2026, 2, 1)).sequence == 1


def test_numbering_continues_after_invoices_created_outside_the_service(deal: Deal) -> None:
    factories.make_invoice(deal)  # F-2026-00001 without the counter
    assert _create(deal, datetime.date(2026, 3, 1)).number == "F-2026-00002"


def test_a_refused_invoice_does_not_use_up_a_number(deal: Deal) -> None:
    bad = [{**LINES[0], "vat_rate": Decimal("7")}]
    with pytest.raises(Exception, match="Unknown VAT rate"):
        invoice_create(
            deal=deal,
            lines=bad,  # type: ignore[list-item]
            issue_date=datetime.date(2026, 3, 1),
            due_date=datetime.date(2026, 3, 31),
        )
    assert _create(deal, datetime.date(2026, 3, 1)).sequence == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creation_gives_every_invoice_a_distinct_number_without_gaps(
    company: object, sender: object
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update) need PostgreSQL")
    deal = factories.make_deal(company=company, responsible=sender)  # type: ignore[arg-type]
    workers = 12
    barrier = threading.Barrier(workers)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def create_one() -> None:
        # Each thread has its own database connection (Django's are per thread).
        try:
            barrier.wait(timeout=10)
            invoice = _create(Deal.objects.get(pk=deal.pk), datetime.date(2026, 5, 4))
            numbers.append(invoice.sequence)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create_one) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(numbers) == list(range(1, workers + 1))
    stored = sorted(
        Invoice.objects.filter(company=company, year=2026).values_list("sequence", flat=True)
    )
    assert stored == list(range(1, workers + 1))
    assert InvoiceCounter.objects.get(company=company, year=2026).last_sequence == workers
