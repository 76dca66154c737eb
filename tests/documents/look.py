"""Sample contexts of the built-in templates and their page images, shared by the look test
(tests/documents/test_invoice_look.py) and bench/bench_render.py.

`python -m tests.documents.look` writes the reference images of the current templates into
tests/documents/look/ (run it only when a change of look is intended, and say so in the commit).
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

REFERENCE_DIR = Path(__file__).resolve().parent / "look"
# Small enough to commit (a few KB a page), fine enough to see a line move by half a point.
DPI = 50
# (name, template kind, invoice lines, client stamp asked, language). Lines: a positive count
# mixes one-line and wrapping descriptions; a negative one is that many one-line rows (300 fill
# 10 pages: the long invoice of bench/bench_render.py and of issue 17).
SAMPLES: list[tuple[str, str, int, bool, str]] = [
    ("invoice-1-page", "invoice", 3, False, "fr"),
    ("invoice-stamp-en", "invoice", 6, True, "en"),
    ("invoice-wrapping-4-pages", "invoice", 80, False, "fr"),
    ("invoice-10-pages", "invoice", -300, False, "fr"),
    ("agreement", "agreement", 0, False, "fr"),
    ("nda", "nda", 0, False, "en"),
]
DESCRIPTIONS = [
    "Prestation n° {n}",
    "Conception graphique de la vitrine et déclinaison sur les supports imprimés, ligne n° {n}",
    "Pose",
]


def company() -> dict[str, Any]:
    """The demo company (seed_demo), as documents.contexts hands it to a template."""
    from crm.management.commands.seed_demo import COMPANY

    return {"legal_name": "Atelier Lumière SAS", **COMPANY}


def invoice_line(n: int, language: str, *, one_line: bool = False) -> dict[str, str]:
    from signflow.money import format_money

    price = Decimal("120.00") if n % 4 or one_line else Decimal("12345.60")
    quantity = 1 if one_line else 1 + n % 3
    description = DESCRIPTIONS[0 if one_line else n % len(DESCRIPTIONS)]
    return {
        "description": description.format(n=n + 1),
        "quantity": str(quantity),
        "unit": "h" if n % 2 else "forfait",
        "unit_price": format_money(price, "EUR", language),
        "vat_rate": "20 %" if n % 5 else "5,5 %",
        "net": format_money(price * quantity, "EUR", language),
    }


def context(lines: int, *, stamp_asked: bool = False, language: str = "fr") -> dict[str, Any]:
    """An invoice (or agreement, NDA) context as documents.contexts builds it: plain data.
    `lines` < 0: that many one-line rows."""
    client = dict(
        company(),
        legal_name="Boulangerie Martin SARL",
        legal_form="SARL",
        is_company=True,
        stamp_asked=stamp_asked,
    )
    return {
        "company": company(),
        "client": client,
        "contact": {"name": "Paul Martin"},
        "deal": {"title": "Refonte de la vitrine", "amount": "4 800,00 €"},
        "invoice": {"number": "F-2026-00001", "issue_date": "20/11/2026", "due_date": "20/12/2026"},
        "lines": [invoice_line(n, language, one_line=lines < 0) for n in range(abs(lines))],
        "totals": {
            "net": "48 360,00 €",
            "gross": "57 966,00 €",
            "vat_rows": [
                {"rate": "20 %", "base": "48 000,00 €", "amount": "9 600,00 €"},
                {"rate": "5,5 %", "base": "360,00 €", "amount": "6,00 €"},
            ],
        },
    }


def render(kind: str, lines: int, *, stamp_asked: bool = False, language: str = "fr") -> Any:
    """documents.rendering.RenderedPdf of a built-in template (Django must be set up)."""
    from documents.builtin import builtin_source
    from documents.rendering import render_pdf

    body, css = builtin_source(kind)
    return render_pdf(
        body=body,
        css=css,
        context=context(lines, stamp_asked=stamp_asked, language=language),
        language=language,
    )


def page_images(pdf: bytes, dpi: int = DPI) -> list[Image.Image]:
    """Every page as a grey image, rasterised by poppler (pdftoppm)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "doc.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-png", str(source), str(Path(tmp) / "p")],
            check=True,
            capture_output=True,
        )
        return [
            Image.open(io.BytesIO(path.read_bytes())).convert("L")
            for path in sorted(Path(tmp).glob("p-*.png"))
        ]


def difference(a: Image.Image, b: Image.Image, threshold: int = 48) -> float:
    """Share of pixels whose grey level differs by more than `threshold` (of 255)."""
    if a.size != b.size:
        return 1.0
    histogram = ImageChops.difference(a, b).histogram()
    return sum(histogram[threshold + 1 :]) / (a.size[0] * a.size[1])


def fields_of(rendered: Any) -> list[tuple[str, int, float, float, float, float]]:
    """The field rectangles, rounded to a tenth of a point."""
    return [
        (f.key, f.page, round(f.x, 1), round(f.y, 1), round(f.width, 1), round(f.height, 1))
        for f in rendered.fields
    ]


def main() -> None:
    import json
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings_test")
    django.setup()
    REFERENCE_DIR.mkdir(exist_ok=True)
    rectangles = {}
    for name, kind, lines, stamp_asked, language in SAMPLES:
        rendered = render(kind, lines, stamp_asked=stamp_asked, language=language)
        for number, image in enumerate(page_images(rendered.pdf), start=1):
            image.save(REFERENCE_DIR / f"{name}-{number:02d}.png", optimize=True)
        rectangles[name] = fields_of(rendered)
    (REFERENCE_DIR / "fields.json").write_text(json.dumps(rectangles, indent=1) + "\n")


if __name__ == "__main__":
    main()
