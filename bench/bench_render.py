"""Milliseconds per invoice render (template -> PDF + fields), 1 page vs 10 pages.

    DJANGO_SETTINGS_MODULE=signflow.settings_test .venv/bin/python bench/bench_render.py [runs]

Renders in memory (documents.rendering.render_pdf): no database, no storage, so the number is
the WeasyPrint cost the web process pays per invoice.
"""

import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings_test")

import django  # noqa: E402

django.setup()

from documents.builtin import builtin_source  # noqa: E402
from documents.rendering import render_pdf  # noqa: E402
from signflow.money import format_money  # noqa: E402


def context(lines: int) -> dict:
    company = {
        "legal_name": "Atelier Lumière SAS",
        "legal_form": "SAS",
        "siren": "732829320",
        "siret": "73282932000074",
        "vat_number": "FR44732829320",
        "rcs_city": "Lyon",
        "address": "12 rue de la République\n69002 Lyon",
        "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP",
        "director_name": "Claire Dubois",
        "director_title": "Présidente",
    }
    client = dict(company, legal_name="Boulangerie Martin SARL", is_company=True)
    price = format_money(Decimal("120.00"), "EUR", "fr")
    return {
        "company": company,
        "client": client,
        "contact": {"name": "Paul Martin"},
        "deal": {"title": "Refonte de la vitrine"},
        "invoice": {"number": "F-2026-00001", "issue_date": "20/11/2026", "due_date": "20/12/2026"},
        "lines": [
            {
                "description": f"Prestation n° {n}",
                "quantity": "1",
                "unit": "h",
                "unit_price": price,
                "vat_rate": "20 %",
                "net": price,
            }
            for n in range(lines)
        ],
        "totals": {"net": "—", "gross": "—", "vat_rows": []},
    }


def measure(lines: int, runs: int) -> tuple[int, float, float]:
    body, css = builtin_source("invoice")
    ctx = context(lines)
    render_pdf(body=body, css=css, context=ctx, language="fr")  # warm-up: fonts, imports
    timings = []
    pages = 0
    for _ in range(runs):
        start = time.perf_counter()
        pages = render_pdf(body=body, css=css, context=ctx, language="fr").page_count
        timings.append((time.perf_counter() - start) * 1000)
    return pages, statistics.median(timings), min(timings)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for lines in (3, 300):
        pages, median, best = measure(lines, runs)
        print(
            f"{lines:4d} lines -> {pages:2d} page(s): median {median:7.1f} ms, best {best:7.1f} ms"
        )


if __name__ == "__main__":
    main()
