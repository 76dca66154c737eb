"""Template -> PDF with WeasyPrint, and the rectangles of its field boxes read from the layout.

One rendered WeasyPrint document gives both the PDF bytes and the boxes' positions, so the
stored Field rectangles always match what is printed. WeasyPrint's anchors are border boxes in
CSS px from the page's top-left corner; Field rectangles are PDF points from the bottom-left
(documents.models): x_pt = x_px * 0.75, y_pt = page_height_pt - y2_px * 0.75.

Templates are written by employees: they render with the allow-list engine of
documents.sandbox (a budget of loop turns, output and CPU time, plain-data contexts only), and
the whole render, WeasyPrint included, runs in a child process with kernel limits on CPU time
and memory (documents.isolation).
"""

import datetime
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.template import TemplateSyntaxError
from django.utils import translation
from django.utils.translation import gettext as _
from weasyprint import HTML

from documents.errors import DocumentError
from documents.fetcher import SandboxedURLFetcher, static_root
from documents.isolation import LimitExceeded, run_limited
from documents.sandbox import (
    ENGINE,
    BudgetedContext,
    RenderBudget,
    TemplateLimitError,
    refusal_message,
)
from documents.templatetags.signflow_fields import COLLECTOR_KEY, FieldCollector, anchor_id

logger = logging.getLogger(__name__)

PX_TO_PT = 0.75

# Fonts come from static/fonts through the sandboxed fetcher, so layout is the same on every
# machine whatever fonts the system has.
BASE_CSS = """
@font-face { font-family: "DejaVu Sans"; src: url("fonts/DejaVuSans.ttf"); }
@font-face { font-family: "DejaVu Sans"; font-weight: bold; src: url("fonts/DejaVuSans-Bold.ttf"); }
@font-face { font-family: "Dancing Script"; src: url("fonts/DancingScript-Regular.otf"); }
@page { size: A4; margin: 1.6cm 1.6cm 1.8cm 1.6cm; }
html { font-family: "DejaVu Sans"; font-size: 9.5pt; line-height: 1.35; color: #1d2433; }
.sf-field-wrap { display: inline-block; vertical-align: top; margin: 0 0.3cm 0.2cm 0;
  page-break-inside: avoid; break-inside: avoid; }
.sf-field-caption { display: block; font-size: 7.5pt; color: #5b6475; margin-bottom: 1mm; }
.sf-field { display: block; box-sizing: border-box; border: 0.75pt solid #2459d6;
  background: none; }
"""

# Previews and saves of the editor: 30 pages at most (documents.authoring), a few seconds.
PREVIEW_CPU_SECONDS = 5
# A real document may be long (an invoice of hundreds of lines): more time, still bounded.
DOCUMENT_CPU_SECONDS = 30
MEMORY_HEADROOM_BYTES = 768 * 1024 * 1024

_PLAIN_SCALARS = (str, int, float, Decimal, bool, type(None), datetime.date, datetime.time)


def _check_plain(value: Any, path: str = "context") -> None:
    """Templates get plain data only (documents.contexts): a model instance would let the
    author walk relations or call methods. A programming error, hence TypeError."""
    if isinstance(value, _PLAIN_SCALARS):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings")
            _check_plain(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]")
        return
    raise TypeError(f"{path} is a {type(value).__name__}, not plain data")


@dataclass
class PlacedField:
    key: str
    kind: str
    role: str
    label: str
    required: bool
    page: int
    x: float
    y: float
    width: float
    height: float
    phrase: str = ""  # a mention's phrase ("Bon pour accord")

    def to_field(self, document: Any) -> Any:
        """An unsaved documents.Field for `document` at this place."""
        from documents.models import Field

        placed = ("key", "kind", "role", "page", "x", "y", "width", "height", "required")
        return Field(
            document=document,
            label=self.label[:200],
            phrase=self.phrase[:200],
            **{name: getattr(self, name) for name in placed},
        )


@dataclass
class RenderedPdf:
    pdf: bytes
    page_count: int
    fields: list[PlacedField]
    refused_urls: list[str] = field(default_factory=list)


def _line_of(exc: Exception) -> int | None:
    debug = getattr(exc, "template_debug", None)
    return debug.get("line") if isinstance(debug, dict) else None


def _template_error(exc: Exception) -> DocumentError:
    line = _line_of(exc)
    if isinstance(exc, TemplateLimitError):
        detail = exc.message
    else:
        detail = refusal_message(exc) or str(exc)[:300]
    if line:
        return DocumentError(
            _("The template could not be rendered (line %(line)s): %(detail)s")
            % {"line": line, "detail": detail}
        )
    return DocumentError(_("The template could not be rendered: %(detail)s") % {"detail": detail})


def template_compile_error(body: str) -> str | None:
    """The author's message (with its line) when the sandbox refuses `body`, else None.
    Compiles only: nothing is rendered."""
    try:
        ENGINE.from_string(body)
    except Exception as exc:  # anything the parser raises is the author's to fix
        return _template_error(exc).message
    return None


def render_html(
    *, body: str, context: dict[str, Any], language: str | None = None
) -> tuple[str, FieldCollector]:
    """Render the Django template body (autoescaped) and collect its {% field %} tags.

    The document is worded in `language`; an error is worded in the reader's language (the
    one active on entry), since it is shown to the employee editing the template.
    """
    _check_plain(context)
    collector = FieldCollector(reader_language=translation.get_language())
    budget = RenderBudget()
    try:
        template = ENGINE.from_string(body)
        template_context = BudgetedContext(
            {**context, COLLECTOR_KEY: collector}, budget=budget, autoescape=True
        )
        with translation.override(language or translation.get_language()):
            html = template.render(template_context)
        budget.check_output(len(html))
    except TemplateLimitError as exc:
        # Worded for the author, in the language of the person editing (active on entry).
        raise _template_error(exc) from exc
    except TemplateSyntaxError as exc:
        raise _template_error(exc) from exc
    except Exception as exc:  # any failure inside an author's template is theirs to fix
        raise _template_error(exc) from exc
    return html, collector


def wrap_html(*, body_html: str, css: str, language: str) -> str:
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f"<style>{BASE_CSS}</style><style>{css}</style></head><body>{body_html}</body></html>"
    )


def render_pdf(
    *,
    body: str,
    css: str,
    context: dict[str, Any],
    language: str,
    cpu_seconds: int = DOCUMENT_CPU_SECONDS,
) -> RenderedPdf:
    """Render a document template to PDF bytes and its fields' rectangles in PDF points, in a
    child process limited to `cpu_seconds` of CPU and MEMORY_HEADROOM_BYTES more memory."""
    _check_plain(context)
    _warm_up()
    try:
        return run_limited(
            lambda: _render_pdf_here(body=body, css=css, context=context, language=language),
            cpu_seconds=cpu_seconds,
            memory_bytes=MEMORY_HEADROOM_BYTES,
            # CPU time is what the limit is about; the wall clock only guards against a child
            # that waits on something (two cores shared by many processes: be generous).
            wall_seconds=cpu_seconds * 3 + 5,
        )
    except LimitExceeded as exc:
        if exc.reason in ("cpu", "timeout"):
            message = _(
                "The template took too long to render (more than %(seconds)s seconds): "
                "check its loops and the size of what it prints."
            ) % {"seconds": cpu_seconds}
        elif exc.reason == "memory":
            message = _(
                "The template needs too much memory to render: check its loops and the size "
                "of what it prints."
            )
        else:
            message = _("The template could not be rendered: the renderer stopped unexpectedly.")
        raise DocumentError(message) from exc


_warm = False


def _warm_up() -> None:
    """Lay out a page of our own once per process, before the first fork: children inherit
    WeasyPrint's font caches warm, instead of each loading the fonts again (~250 ms)."""
    global _warm
    if _warm:
        return
    _warm = True
    try:
        _render_pdf_here(body="<p><b>SignFlow</b> <i>1</i></p>", css="", context={}, language="en")
    except DocumentError:  # pragma: no cover - the same render then fails in the child, clearly
        logger.exception("Warming up the PDF renderer failed")


def _render_pdf_here(*, body: str, css: str, context: dict[str, Any], language: str) -> RenderedPdf:
    body_html, collector = render_html(body=body, context=context, language=language)
    html = wrap_html(body_html=body_html, css=css, language=language)
    fetcher = SandboxedURLFetcher()
    try:
        document = HTML(
            string=html, base_url=static_root().as_uri() + "/", url_fetcher=fetcher
        ).render()
        pdf = document.write_pdf()
    except Exception as exc:  # WeasyPrint raises many kinds on bad CSS/HTML
        logger.exception("WeasyPrint failed on a document template")
        raise DocumentError(
            _("The template could not be turned into a PDF: %(detail)s")
            % {"detail": str(exc)[:300]}
        ) from exc
    if fetcher.refused:
        logger.warning("Refused %d URL(s) while rendering a template", len(fetcher.refused))

    placed: list[PlacedField] = []
    positions: dict[str, tuple[int, float, float, float, float]] = {}
    for number, page in enumerate(document.pages, start=1):
        page_height_pt = page.height * PX_TO_PT
        for name, anchor in page.anchors.items():
            if name in positions:
                continue
            x1, y1, x2, y2 = anchor
            positions[name] = (
                number,
                x1 * PX_TO_PT,
                page_height_pt - y2 * PX_TO_PT,
                (x2 - x1) * PX_TO_PT,
                (y2 - y1) * PX_TO_PT,
            )
    for spec in collector.fields:
        position = positions.get(anchor_id(spec.key))
        if position is None or position[3] <= 0 or position[4] <= 0:
            raise DocumentError(
                _('The field "%(label)s" is not visible on any page of the document.')
                % {"label": spec.label}
            )
        page_number, x, y, width, height = position
        placed.append(
            PlacedField(
                key=spec.key,
                kind=spec.kind,
                role=spec.role,
                label=spec.label,
                required=spec.required,
                phrase=spec.phrase,
                page=page_number,
                x=round(x, 3),
                y=round(y, 3),
                width=round(width, 3),
                height=round(height, 3),
            )
        )
    return RenderedPdf(
        pdf=pdf, page_count=len(document.pages), fields=placed, refused_urls=fetcher.refused
    )
