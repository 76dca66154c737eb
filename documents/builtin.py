"""The templates SignFlow ships: invoice, service agreement and NDA, in French and English.

One HTML body per kind, written with {% translate %}: the French and English rows share it and
the document's language picks the wording when it is rendered. Blocks the kinds share (the
contract parties, the signature boxes) are written once in builtin_templates/parts/ and pasted
in where a line reads `{# part: name #}`: the sandbox has no `include`, and a template a person
copies and edits keeps the whole text.
"""

import re
from pathlib import Path

from django.db import transaction

from documents.models import DocumentTemplate

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_templates"
BUILTIN_KINDS = {
    DocumentTemplate.Kind.INVOICE: ("invoice.html", {"fr": "Facture", "en": "Invoice"}),
    DocumentTemplate.Kind.AGREEMENT: (
        "agreement.html",
        {"fr": "Contrat de prestation de services", "en": "Service agreement"},
    ),
    DocumentTemplate.Kind.NDA: (
        "nda.html",
        {"fr": "Accord de confidentialité", "en": "Non-disclosure agreement"},
    ),
}
LANGUAGES = ("fr", "en")
PART_LINE = re.compile(r"^\{# part: ([a-z_]+) #\}\n", re.MULTILINE)


def _with_parts(text: str) -> str:
    """`text` with each `{# part: name #}` line replaced by parts/name.html (whose own part
    lines are replaced in turn)."""
    return PART_LINE.sub(
        lambda match: _with_parts(
            (BUILTIN_DIR / "parts" / f"{match[1]}.html").read_text(encoding="utf-8")
        ),
        text,
    )


def builtin_source(kind: str) -> tuple[str, str]:
    filename, _names = BUILTIN_KINDS[DocumentTemplate.Kind(kind)]
    body = _with_parts((BUILTIN_DIR / filename).read_text(encoding="utf-8"))
    css = (BUILTIN_DIR / "common.css").read_text(encoding="utf-8")
    return body, css


@transaction.atomic
def ensure_builtin_templates() -> list[DocumentTemplate]:
    """Create or refresh the built-in templates; safe to call any number of times."""
    templates = []
    for kind, (_filename, names) in BUILTIN_KINDS.items():
        body, css = builtin_source(kind)
        for language in LANGUAGES:
            template, _created = DocumentTemplate.objects.update_or_create(
                builtin=True,
                kind=kind,
                language=language,
                defaults={"name": names[language], "body": body, "css": css},
            )
            templates.append(template)
    return templates
