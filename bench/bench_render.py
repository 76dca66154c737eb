"""Invoice render (template -> PDF + field rectangles): 1 page against WeasyPrint alone, and
10 pages against 1 page.

    .venv/bin/python bench/bench_render.py [-n 5]

No database, no storage: the number is what the web process pays per invoice. The invoices are
the look test's samples (tests/documents/look.py): 3 lines (one wraps) for 1 page, 300 one-line
rows for 10 pages (the long invoice of issue 17).

- render-1-page: documents.rendering.render_pdf (sandboxed template, WeasyPrint in a forked,
  limited child, field rectangles read back) against the floor, WeasyPrint alone turning the
  same HTML into a PDF in this process. Target <= 1.3.
- render-10-pages: the same for the 10-page invoice, against WeasyPrint alone on its HTML.
  Target <= 1.3: what a long invoice costs beyond one page is WeasyPrint's.
- render-10-vs-1-page: render_pdf of the 10-page invoice against the 1-page one (the ratio is
  the figure; the 10-page time is the "project" column). Target <= 6 (issue 17). The line
  before it prints WeasyPrint's own 10-vs-1 ratio on the same two HTML documents, measured in
  the same pairs: a page of 30 table rows costs WeasyPrint ~10 times the 3-row page of the
  short invoice, so 6 is out of reach of any template (bench/README.md, "Render").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings_test")

import django  # noqa: E402

django.setup()

from _report import interleave, report  # noqa: E402
from weasyprint import HTML  # noqa: E402

from documents.builtin import builtin_source  # noqa: E402
from documents.fetcher import SandboxedURLFetcher, static_root  # noqa: E402
from documents.rendering import render_html, render_pdf, wrap_html  # noqa: E402
from tests.documents.look import context  # noqa: E402

ONE_PAGE_LINES = 3
TEN_PAGES_LINES = -300  # 300 one-line rows (tests.documents.look.context)


def project(lines: int) -> int:
    body, css = builtin_source("invoice")
    return render_pdf(body=body, css=css, context=context(lines), language="fr").page_count


def weasyprint_alone(lines: int) -> Callable[[], bytes]:
    """The floor: the same HTML, already rendered from the template, through WeasyPrint."""
    body, css = builtin_source("invoice")
    body_html, _collector = render_html(body=body, context=context(lines), language="fr")
    html = wrap_html(body_html=body_html, css=css, language="fr")
    base_url = static_root().as_uri() + "/"

    def run() -> bytes:
        return HTML(string=html, base_url=base_url, url_fetcher=SandboxedURLFetcher()).write_pdf()

    return run


def _compare(name: str, lines: int, pairs: int) -> None:
    """The project's render against WeasyPrint alone on the same HTML: one BENCH line."""
    result = interleave(lambda: project(lines), weasyprint_alone(lines), pairs=pairs)
    print(f"{name}: {result.summary()} (floor: WeasyPrint alone)", flush=True)
    report(
        name,
        project=statistics.median(result.project) * 1000,
        floor=statistics.median(result.floor) * 1000,
        ratio=result.ratio,
        target=1.3,
    )


def _ten_against_one(pairs: int) -> None:
    """10 pages against 1 page, through render_pdf, and WeasyPrint's own ratio beside it."""
    ten = interleave(lambda: project(TEN_PAGES_LINES), lambda: project(ONE_PAGE_LINES), pairs=pairs)
    library = interleave(
        weasyprint_alone(TEN_PAGES_LINES), weasyprint_alone(ONE_PAGE_LINES), pairs=pairs
    )
    print(
        f"render 10 pages vs 1: {ten.summary()}; WeasyPrint alone on the same HTML: "
        f"{library.summary()}, ratio {library.ratio:.2f}",
        flush=True,
    )
    report(
        "render-10-vs-1-page",
        project=statistics.median(ten.project) * 1000,
        floor=statistics.median(ten.floor) * 1000,
        ratio=ten.ratio,
        target=6.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="pairs per comparison (>= 5)")
    args = parser.parse_args()
    pages = project(TEN_PAGES_LINES)
    assert pages == 10, f"the long sample has {pages} pages, not 10"
    _compare("render-1-page", ONE_PAGE_LINES, args.n)
    _compare("render-10-pages", TEN_PAGES_LINES, args.n)
    _ten_against_one(args.n)


if __name__ == "__main__":
    main()
