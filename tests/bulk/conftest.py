"""Bulk send personas: a document with one client signature field (copied per row, nothing to
render) and a template with a variable and a prefillable field (rendered per row)."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from bulk import services
from bulk.models import Batch
from documents import services as document_services
from documents.models import Document, DocumentTemplate, Field
from tests.security.conftest import blank_pdf

GOOD_PHONE = "06 12 34 56 78"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def model_document(sender: User) -> Document:
    """An uploaded contract whose only field is the client's signature, and a text field."""
    document = document_services.document_create_from_upload(
        uploaded_file=SimpleUploadedFile("contrat.pdf", blank_pdf(), "application/pdf"),
        title="Contrat cadre",
        creator=sender,
        language="fr",
    )
    document.fields.exclude(role=Field.Role.CLIENT, kind=Field.Kind.SIGNATURE).delete()
    document_services.field_create(
        document=document,
        kind=Field.Kind.TEXT,
        role=Field.Role.CLIENT,
        page=1,
        x=50,
        y=50,
        width=150,
        height=20,
        label="Reference",
    )
    return document


@pytest.fixture
def template(sender: User) -> DocumentTemplate:
    return DocumentTemplate.objects.create(
        name="Adhesion",
        kind="other",
        language="fr",
        body=(
            "<h1>Adhésion de {{ client.legal_name }}</h1><p>{{ deal.title }}</p>"
            '{% field "text" party="client" label="Reference" key="ref" %}'
            '{% field "signature" party="client" %}'
        ),
        css="",
        created_by=sender,
    )


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode(encoding)


def recipients(n: int, *, bad_phone_line: int | None = None) -> list[list[str]]:
    """A header and n recipients; the one at file line `bad_phone_line` has a landline."""
    rows = [["Nom", "Email", "Téléphone", "Canal", "Reference"]]
    for i in range(1, n + 1):
        line = i + 1
        phone = "01 23 45 67 89" if line == bad_phone_line else GOOD_PHONE
        channel = "sms" if line == bad_phone_line else "email"
        rows.append([f"Client {i}", f"client{i}@example.com", phone, channel, f"REF-{i}"])
    return rows


def make_batch(user: User, data: bytes, *, document=None, template=None, name="r.csv") -> Batch:
    return services.batch_create(
        actor=user, file_name=name, data=data, document=document, template=template
    )
