"""Uploads become documents with default fields; hostile files leave nothing behind."""

import io
import struct
import zlib

import pytest
from pypdf import PdfReader, PdfWriter

from documents.errors import DocumentError
from documents.models import Document
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, png_bytes, stored_files, upload


def create(sender, data: bytes, name: str = "contrat.pdf"):
    return document_create_from_upload(
        uploaded_file=upload(data, name), title="Contrat cadre", creator=sender, language="fr"
    )


def refused(sender, media_root, data: bytes, name: str = "contrat.pdf") -> str:
    with pytest.raises(DocumentError) as caught:
        create(sender, data, name)
    assert Document.objects.count() == 0
    assert stored_files(media_root) == []
    return caught.value.message


def test_an_uploaded_pdf_is_stored_by_hash_with_default_fields_on_the_last_page(sender, media_root):
    document = create(sender, blank_pdf(pages=3))
    assert document.source == Document.Source.UPLOAD
    assert document.page_count == 3
    assert document.pdf.name == f"documents/{document.sha256}.pdf"
    assert stored_files(media_root) == [media_root / document.pdf.name]
    fields = {field.key: field for field in document.fields.all()}
    assert set(fields) == {"company-signature", "company-stamp", "client-signature"}
    assert {field.page for field in fields.values()} == {3}
    company, stamp, client = (
        fields["company-signature"],
        fields["company-stamp"],
        fields["client-signature"],
    )
    assert company.role == stamp.role == "company"
    assert client.role == "client"
    # Company on the left, client on the right, all near the bottom and inside the page.
    assert company.x < stamp.x < client.x
    assert company.x + company.width <= stamp.x
    assert client.x + client.width <= 595.28
    assert max(field.y + field.height for field in fields.values()) < 841.89 / 4


def test_the_same_file_uploaded_twice_shares_one_stored_file(sender, media_root):
    first = create(sender, blank_pdf())
    second = create(sender, blank_pdf())
    assert first.pdf.name == second.pdf.name
    assert len(stored_files(media_root)) == 1


def test_a_png_becomes_a_one_page_pdf_no_larger_than_a4(sender):
    document = create(sender, png_bytes(1200, 800, (255, 0, 0, 255)), "scan.png")
    reader = PdfReader(document.pdf.open("rb"))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) <= 842 and float(box.height) <= 842
    assert document.fields.count() == 3


def test_a_jpeg_is_accepted(sender):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (600, 800), "white").save(out, "JPEG")
    document = create(sender, out.getvalue(), "photo.jpg")
    assert document.page_count == 1


def test_a_zero_byte_file_is_refused_with_a_clear_message(sender, media_root):
    assert "empty" in refused(sender, media_root, b"")


def test_a_truncated_pdf_is_refused_with_a_clear_message(sender, media_root):
    data = blank_pdf(pages=2)
    message = refused(sender, media_root, data[: len(data) // 2])
    assert "damaged or incomplete" in message


def test_a_pdf_with_a_password_is_refused_with_a_clear_message(sender, media_root):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    assert "password" in refused(sender, media_root, out.getvalue())


def test_a_30000_by_30000_png_is_refused_before_it_is_decoded(sender, media_root):
    # A real PNG header claiming 30000 x 30000 pixels, with a tiny compressed body.
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 30001 * 4))
        + chunk(b"IEND", b"")
    )
    message = refused(sender, media_root, data, "bomb.png")
    assert "too large" in message


def test_a_file_that_is_not_a_pdf_but_named_pdf_is_refused(sender, media_root):
    message = refused(sender, media_root, b"PK\x03\x04 this is a zip file", "facture.pdf")
    assert "not a PDF" in message


def test_an_unsupported_file_type_is_refused(sender, media_root):
    assert "PDF, PNG and JPEG" in refused(sender, media_root, b"hello world", "notes.txt")


def test_a_word_file_gets_a_message_saying_to_save_it_as_pdf(sender, media_root):
    assert "PDF" in refused(sender, media_root, b"\xd0\xcf\x11\xe0 word", "contrat.docx")


def test_a_file_over_the_size_limit_is_refused(sender, media_root, settings):
    settings.SIGNFLOW_UPLOAD_MAX_BYTES = 200
    assert "too large" in refused(sender, media_root, blank_pdf(pages=5))


def test_a_pdf_over_the_page_limit_is_refused(sender, media_root, settings):
    settings.SIGNFLOW_UPLOAD_MAX_PAGES = 2
    assert "3 pages" in refused(sender, media_root, blank_pdf(pages=3))


def test_garbage_after_a_pdf_header_is_refused(sender, media_root):
    message = refused(sender, media_root, b"%PDF-1.7\n" + b"\x00garbage" * 100 + b"\n%%EOF\n")
    assert "damaged" in message


def test_a_missing_title_is_refused(sender, media_root):
    with pytest.raises(DocumentError) as caught:
        document_create_from_upload(
            uploaded_file=upload(blank_pdf()), title="  ", creator=sender, language="fr"
        )
    assert "title" in caught.value.message
    assert stored_files(media_root) == []


def test_a_database_failure_after_the_file_is_written_removes_the_file(
    sender, media_root, monkeypatch
):
    from documents.models import Field

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Field.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        create(sender, blank_pdf())
    assert Document.objects.count() == 0
    assert stored_files(media_root) == []
