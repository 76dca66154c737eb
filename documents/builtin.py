"""The templates SignFlow ships: invoice, service agreement and NDA, in French and English.

One HTML body per kind, written with {% translate %}: the French and English rows share it and
the document's language picks the wording when it is rendered.
"""

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


def builtin_source(kind: str) -> tuple[str, str]:
    filename, _names = BUILTIN_KINDS[DocumentTemplate.Kind(kind)]
    body = (BUILTIN_DIR / filename).read_text(encoding="utf-8")
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
