"""Reads of the documents app."""

import datetime
from dataclasses import dataclass

from documents.models import Document, DocumentTemplate
from documents.previews import read_pdf
from signflow import pdf


def page_sizes(document: Document) -> list[tuple[float, float]]:
    """(width, height) in PDF points of every page, as the previews show them (signflow.pdf),
    remembered by the file's hash."""
    return pdf.stored_page_sizes(document.sha256, lambda: read_pdf(document))


def company_default_template(*, kind: str, language: str) -> DocumentTemplate | None:
    """The template the company builds documents of this kind and language from: the default
    a manager chose for invoices, else the built-in one (None for kinds without one)."""
    if kind == DocumentTemplate.Kind.INVOICE:
        chosen = DocumentTemplate.objects.filter(
            kind=kind, language=language, is_default_for_invoices=True
        ).first()
        if chosen is not None:
            return chosen
    return DocumentTemplate.objects.filter(kind=kind, language=language, builtin=True).first()


@dataclass
class TemplateNotice:
    """Why the sender should look twice at the template a document was built from."""

    name: str
    version: int
    author: str  # who last changed the version that built the document ("" when SignFlow did)
    changed_at: datetime.datetime
    default_name: str  # the company's default for that kind and language, if there is one
    outdated: bool  # it is the default, but it changed since the document was built


def template_notice(document: Document) -> TemplateNotice | None:
    """None when the document was built from the company's current default for its kind and
    language (or not from a template at all); else what the send screen warns about."""
    version = document.template_version
    if document.source != Document.Source.TEMPLATE or version is None:
        return None
    default = company_default_template(kind=version.kind, language=document.language)
    outdated = False
    if default is not None and version.template_id == default.pk:
        latest = default.versions.order_by("-number").first()
        if latest is None or latest.sha256 == version.sha256:
            return None
        outdated = True
    author = ""
    if version.author is not None:
        author = version.author.get_full_name() or version.author.get_username()
    return TemplateNotice(
        name=version.name,
        version=version.number,
        author=author,
        changed_at=version.created_at,
        default_name=default.name if default is not None else "",
        outdated=outdated,
    )
