"""Reads of the documents app."""

import pypdfium2 as pdfium

from documents.models import Document
from documents.previews import read_pdf


def page_sizes(document: Document) -> list[tuple[float, float]]:
    """(width, height) in PDF points of every page, as the previews show them."""
    pdf = pdfium.PdfDocument(read_pdf(document))
    try:
        return [tuple(map(float, pdf[index].get_size())) for index in range(len(pdf))]  # type: ignore[misc]
    finally:
        pdf.close()
