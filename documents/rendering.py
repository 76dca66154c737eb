"""Template -> PDF with WeasyPrint, and the rectangles of its field boxes read from the layout.

One rendered WeasyPrint document gives both the PDF bytes and the boxes' positions, so the
stored Field rectangles always match what is printed. WeasyPrint's anchors are border boxes in
CSS px from the page's top-left corner; Field rectangles are PDF points from the bottom-left
(documents.models): x_pt = x_px * 0.75, y_pt = page_height_pt - y2_px * 0.75.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation
from django.utils.translation import gettext as _
from weasyprint import HTML

from documents.errors import DocumentError
from documents.fetcher import SandboxedURLFetcher, static_root
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

_ENGINE = Engine(
    debug=True,  # exceptions carry the template line (template_debug)
    loaders=[],  # no {% include %}/{% extends %} of files: a template is self-contained
    libraries={
        "i18n": "django.templatetags.i18n",
        "l10n": "django.templatetags.l10n",
        "signflow": "signflow.templatetags.signflow",
        "signflow_fields": "documents.templatetags.signflow_fields",
    },
    builtins=[
        "django.templatetags.i18n",
        "documents.templatetags.signflow_fields",
        "signflow.templatetags.signflow",
    ],
    autoescape=True,
)


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

    def to_field(self, document: Any) -> Any:
        """An unsaved documents.Field for `document` at this place."""
        from documents.models import Field

        return Field(
            document=document,
            key=self.key,
            kind=self.kind,
            role=self.role,
            page=self.page,
            x=self.x,
            y=self.y,
            width=self.width,
            height=self.height,
            label=self.label[:200],
            required=self.required,
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
    detail = str(exc)[:300]
    if line:
        return DocumentError(
            _("The template could not be rendered (line %(line)s): %(detail)s")
            % {"line": line, "detail": detail}
        )
    return DocumentError(_("The template could not be rendered: %(detail)s") % {"detail": detail})


def render_html(
    *, body: str, context: dict[str, Any], language: str | None = None
) -> tuple[str, FieldCollector]:
    """Render the Django template body (autoescaped) and collect its {% field %} tags.

    The document is worded in `language`; an error is worded in the reader's language (the
    one active on entry), since it is shown to the employee editing the template.
    """
    collector = FieldCollector(reader_language=translation.get_language())
    try:
        template = _ENGINE.from_string(body)
        with translation.override(language or translation.get_language()):
            html = template.render(Context({**context, COLLECTOR_KEY: collector}, autoescape=True))
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


def render_pdf(*, body: str, css: str, context: dict[str, Any], language: str) -> RenderedPdf:
    """Render a document template to PDF bytes and its fields' rectangles in PDF points."""
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
