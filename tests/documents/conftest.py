"""Shared helpers for the documents tests: an isolated MEDIA_ROOT and sample files."""

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image
from pypdf import PdfWriter

from crm.models import Invoice, OwnCompany
from tests import factories


@pytest.fixture(autouse=True)
def default_language_after_each_test():
    # LocaleMiddleware leaves the language of a French request active in this thread: reset it
    # so that tests reading English messages do not depend on the order they run in.
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def invoice(company: OwnCompany, sender: User) -> Invoice:
    deal = factories.make_deal(company=company, responsible=sender)
    return factories.make_invoice(
        deal,
        lines=[
            ("Conception graphique", "1", "8333.33", "20"),
            ("Impression des affiches", "250", "1.20", "5.5"),
        ],
    )


def blank_pdf(pages: int = 1, width: float = 595.28, height: float = 841.89) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=width, height=height)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(data: bytes, name: str = "contrat.pdf", content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_bytes(width: int, height: int, color=(0, 0, 0, 255), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def render(pdf: bytes, *, page: int = 1, scale: float = 2.0) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        return document[page - 1].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def stored_files(media_root: Path) -> list[Path]:
    folder = media_root / "documents"
    return sorted(folder.iterdir()) if folder.exists() else []
