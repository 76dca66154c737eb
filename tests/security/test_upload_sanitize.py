"""Hostile uploads: what could act on a reader's machine or hide data never reaches the signers.

The PDFs are built here with pikepdf on top of a page rendered by WeasyPrint (the fonts and
text encoding real files have), then go through the upload service or the whole flow to a
sealed PDF, which is checked with pikepdf, qpdf, pdftotext and pdfium.
"""

import io
import subprocess
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from pikepdf import Array, Dictionary, Name, String
from pypdf import PdfWriter

from documents.errors import DocumentError
from documents.models import Document
from documents.services import document_create_from_upload
from signing.models import Envelope
from tests.signing.conftest import last_message, link_token, send_form, sign_with_code
from verification.certificate import removed_items

FIELD_VALUE = "Boulangerie Martin"
FIELD_RECT = (72, 300, 320, 324)  # display space of an A4 page without /Rotate


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


def tagged_page(tags: str = "") -> bytes:
    from weasyprint import HTML

    html = (
        "<html><body style='font-family: DejaVu Sans; margin: 2cm'>"
        "<h1>Contrat de prestation</h1><p>Le prestataire livre les travaux décrits.</p>"
        f"<p style='margin-top: 12cm'>{tags}</p></body></html>"
    )
    return HTML(string=html).write_pdf()


def _js(code: str) -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(code))


def hostile_pdf(tags: str = "") -> bytes:
    """JavaScript three ways, Launch and URI links, two attached files, XFA, and a form field
    whose value only shows because the file asks viewers to draw it (/NeedAppearances)."""
    pdf = pikepdf.open(io.BytesIO(tagged_page(tags)))
    page = pdf.pages[0].obj
    pdf.Root.OpenAction = pdf.make_indirect(_js("app.alert('open')"))
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("doc"), pdf.make_indirect(_js("this.x=1"))]))
    )
    page.AA = Dictionary(O=_js("app.alert('page')"))
    payload = pdf.make_stream(b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run")
    payload.Type = Name.EmbeddedFile
    spec = Dictionary(Type=Name.Filespec, F=String("payload.exe"), UF=String("payload.exe"))
    spec.EF = Dictionary(F=payload)
    pdf.Root.Names.EmbeddedFiles = Dictionary(
        Names=Array([String("payload.exe"), pdf.make_indirect(spec)])
    )
    notes = pdf.make_stream(b"hidden notes")
    notes.Type = Name.EmbeddedFile
    links = [
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=[72, 700, 200, 720],
            A=Dictionary(S=Name.Launch, F=String("payload.exe")),
        ),
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=[72, 670, 200, 690],
            A=Dictionary(S=Name.URI, URI=String("https://evil.example/collect")),
        ),
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.FileAttachment,
            Rect=[500, 700, 520, 720],
            FS=Dictionary(Type=Name.Filespec, F=String("notes.txt"), EF=Dictionary(F=notes)),
        ),
    ]
    helvetica = pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1,
            BaseFont=Name.Helvetica,
            Encoding=Name.WinAnsiEncoding,
        )
    )
    widget = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("client_name"),
            V=String(FIELD_VALUE),
            Rect=list(FIELD_RECT),
            DA=String("/Helv 14 Tf 0 g"),
            F=4,
            P=page,
            AA=Dictionary(K=_js("event.rc = true")),
        )
    )
    page.Annots = pdf.make_indirect(Array([*(pdf.make_indirect(a) for a in links), widget]))
    pdf.Root.AcroForm = Dictionary(
        Fields=Array([widget]),
        NeedAppearances=True,
        DA=String("/Helv 12 Tf 0 g"),
        DR=Dictionary(Font=Dictionary(Helv=helvetica)),
        XFA=pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'></xdp:xdp>"),
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


EXPECTED_REMOVED = {
    # OpenAction, the document script, the page's open action, the field's keystroke script.
    "javascript": 4,
    "launch": 1,
    "uri": 1,
    "embedded_files": 2,
    "embedded_file_names": ["payload.exe", "notes.txt"],
    "xfa": 1,
    "form_fields": 1,
}


def active_content(data: bytes) -> list[str]:
    """Every trace of what sanitising removes, found by walking all objects of the file."""
    found = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for key in ("/OpenAction", "/AA"):
            if key in pdf.Root:
                found.append(f"catalog {key}")
        for key in ("/JavaScript", "/EmbeddedFiles"):
            if key in pdf.Root.get("/Names", {}):
                found.append(f"names {key}")
        for number, page in enumerate(pdf.pages, start=1):
            if "/AA" in page.obj:
                found.append(f"page {number} /AA")
            for annot in page.obj.get("/Annots", []):
                subtype = str(annot.get("/Subtype"))
                seal = str(annot.get("/FT")) == "/Sig"  # the seal's own visible signature
                if subtype == "/FileAttachment" or (subtype == "/Widget" and not seal):
                    found.append(f"page {number} {subtype}")
        acroform = pdf.Root.get("/AcroForm")
        if acroform is not None:
            if "/XFA" in acroform:
                found.append("XFA")
            for field in acroform.get("/Fields", []):
                if str(field.get("/FT")) != "/Sig":  # the seal's own signature field
                    found.append(f"form field {field.get('/T')}")
        for obj in pdf.objects:
            if isinstance(obj, Dictionary | pikepdf.Stream):
                if "/JS" in obj or str(obj.get("/S")) in ("/JavaScript", "/Launch"):
                    found.append(f"action {obj.get('/S')}")
                if str(obj.get("/Type")) == "/EmbeddedFile" or "/EF" in obj:
                    found.append("embedded file")
                if "evil.example" in str(obj.get("/URI", "")):
                    found.append("URI action")
    return found


def without_our_record(data: bytes) -> bytes:
    """The sealed file less the one attachment SignFlow adds itself (`signflow-record.json`,
    the machine-readable certificate): what is left must hold nothing the sanitiser removes."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert set(pdf.attachments) == {"signflow-record.json"}
        del pdf.Root.Names["/EmbeddedFiles"]
        out = io.BytesIO()
        pdf.save(out)  # qpdf writes only the objects still reachable
    return out.getvalue()


def qpdf_check(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "checked.pdf"
    path.write_bytes(data)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


def pdftotext(data: bytes, tmp_path: Path, *options: str) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", *options, str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def upload(data: bytes, name: str = "contrat.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def create(sender: Any, data: bytes) -> Document:
    return document_create_from_upload(
        uploaded_file=upload(data), title="Contrat", creator=sender, language="en"
    )


def stored(document: Document) -> bytes:
    with document.pdf.open("rb") as fh:
        return fh.read()


def test_the_hostile_file_is_what_these_tests_think_it_is(tmp_path):
    data = hostile_pdf()
    assert len(active_content(data)) >= 8
    qpdf_check(data, tmp_path)


def test_an_upload_loses_scripts_actions_attachments_and_xfa(db, sender, tmp_path):
    document = create(sender, hostile_pdf())
    data = stored(document)
    assert active_content(data) == []
    assert b"payload.exe" not in data and b"This program cannot be run" not in data
    qpdf_check(data, tmp_path)
    assert document.sanitized == EXPECTED_REMOVED


def test_a_form_value_shown_by_need_appearances_stays_visible_and_leaves_the_data(
    db, sender, tmp_path
):
    data = stored(create(sender, hostile_pdf()))
    assert FIELD_VALUE in pdftotext(data, tmp_path)
    # pdfium draws no form here: the ink is the page's own content now.
    image = pdfium.PdfDocument(data)[0].render(scale=1, may_draw_forms=False).to_pil()
    left, bottom, right, top = FIELD_RECT
    box = (left, 842 - top, right, 842 - bottom)
    assert image.crop(box).convert("L").getextrema()[0] < 128
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/AcroForm" not in pdf.Root


def test_actions_and_outlines_that_loop_are_cleaned_without_hanging(db, sender):
    with pikepdf.open(io.BytesIO(tagged_page())) as pdf:
        action = pdf.make_indirect(_js("app.alert('again')"))
        action.Next = action  # the chain loops on itself
        item = pdf.make_indirect(Dictionary(Title=String("Article 1"), A=action))
        item.Next = item
        pdf.Root.Outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, First=item, Last=item))
        pdf.Root.OpenAction = action
        out = io.BytesIO()
        pdf.save(out)
    document = create(sender, out.getvalue())
    assert active_content(stored(document)) == []
    assert document.sanitized == {"javascript": 2}


def test_harmless_annotations_and_internal_links_are_kept(db, sender):
    with pikepdf.open(io.BytesIO(hostile_pdf())) as pdf:
        pdf.add_blank_page(page_size=(595, 842))
        page = pdf.pages[0].obj
        page.Annots.append(
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Link,
                    Rect=[72, 640, 200, 660],
                    Dest=Array([pdf.pages[1].obj, Name.Fit]),
                )
            )
        )
        page.Annots.append(
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Text,
                    Rect=[400, 640, 420, 660],
                    Contents=String("Relire l'article 4"),
                )
            )
        )
        out = io.BytesIO()
        pdf.save(out)
    data = stored(create(sender, out.getvalue()))
    with pikepdf.open(io.BytesIO(data)) as pdf:
        kept = [str(annot.Subtype) for annot in pdf.pages[0].obj.Annots]
    assert kept == ["/Link", "/Text"]


def test_text_tags_are_removed_from_the_text_not_only_covered(db, sender, tmp_path):
    document = create(
        sender, tagged_page("Signature : {{signature:client}} Date : {{date:company}}")
    )
    assert set(document.fields.values_list("key", flat=True)) == {
        "signature-client-1",
        "date-company-1",
    }
    text = pdftotext(stored(document), tmp_path)
    assert "{{" not in text and "signature:client" not in text
    # The words around the tags stay, where they were.
    assert "Signature :" in text and "Date :" in text


def test_text_tags_in_a_simple_font_are_removed_too(db, sender, tmp_path):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        page = pdf.pages[0].obj
        font = Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1,
            BaseFont=Name.Helvetica,
            Encoding=Name.WinAnsiEncoding,
        )
        page.Resources = Dictionary(Font=Dictionary(F1=font))
        page.Contents = pdf.make_stream(
            b"BT /F1 12 Tf 72 300 Td (Client : {{signa) Tj (ture:client}} lu et approuv\xe9) Tj ET"
        )
        out = io.BytesIO()
        pdf.save(out)
    document = create(sender, out.getvalue())
    assert list(document.fields.values_list("key", flat=True)) == ["signature-client-1"]
    text = pdftotext(stored(document), tmp_path)
    assert "{{" not in text and "ture:client" not in text
    assert "lu et approuvé" in text


def test_a_pdf_that_already_carries_a_signature_is_refused(db, sender, settings, tmp_path):
    from tests.verification import pdfs
    from verification.services import seal_pdf

    settings.SIGNFLOW_KEYS_DIR = tmp_path / "keys"
    settings.TSA_URL = ""
    settings.SEAL_PKCS12_PATH = ""
    sealed = seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(language="en"))
    with sealed.file.open("rb") as fh:
        data = fh.read()
    with pytest.raises(DocumentError) as caught:
        create(sender, data)
    assert "already carries an electronic signature" in caught.value.message
    assert "original" in caught.value.message
    assert not Document.objects.exists()
    with translation.override("fr"), pytest.raises(DocumentError) as caught:
        create(sender, data)
    assert "signature électronique" in caught.value.message


def test_a_pdf_with_only_an_owner_password_is_accepted_and_decrypted(db, sender):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    document = create(sender, out.getvalue())
    with pikepdf.open(io.BytesIO(stored(document))) as pdf:
        assert not pdf.is_encrypted


def test_a_pdf_with_a_user_password_is_still_refused(db, sender):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentError) as caught:
        create(sender, out.getvalue())
    assert "password" in caught.value.message


def test_a_pdf_whose_end_marker_is_followed_by_padding_is_accepted(db, sender, tmp_path):
    writer = PdfWriter()
    for _ in range(2):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue() + b"\x00" * 8192
    document = create(sender, data)
    assert document.page_count == 2
    cleaned = stored(document)
    assert b"%%EOF" in cleaned[-64:]
    qpdf_check(cleaned, tmp_path)


def test_a_page_smaller_than_200_points_is_refused_by_number(db, sender):
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_blank_page(width=150, height=400)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentError) as caught:
        create(sender, out.getvalue())
    assert "Page 2 is too small (150 × 400 points)" in caught.value.message
    with translation.override("fr"), pytest.raises(DocumentError) as caught:
        create(sender, out.getvalue())
    assert "page 2" in caught.value.message.lower()


def test_the_certificate_names_what_was_removed_in_both_languages():
    with translation.override("en"):
        assert removed_items(EXPECTED_REMOVED) == [
            "JavaScript (4)",
            "commands that launch a program (1)",
            "links to web addresses (1)",
            "2 embedded files 'payload.exe', 'notes.txt'",
            "an XFA form",
            "form fields flattened (1)",
        ]
        assert removed_items({"embedded_files": 1, "embedded_file_names": ["payload.exe"]}) == [
            "an embedded file 'payload.exe'"
        ]
    with translation.override("fr"):
        items = removed_items({"embedded_files": 1, "embedded_file_names": ["payload.exe"]})
        assert items == ["un fichier joint « payload.exe »"]
    assert removed_items({}) == [] and removed_items(None) == []


@pytest.mark.django_db(transaction=True)
def test_a_hostile_upload_goes_through_the_flow_to_a_clean_sealed_pdf(
    sender_client: Client, tmp_path: Path
):
    tags = "Pour la société : {{signature:company}} Pour le client : {{signature:client}} {{text:client}}"
    response = sender_client.post(
        "/documents/upload/",
        {"title": "Contrat piégé", "file": upload(hostile_pdf(tags)), "language": "en"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    document = Document.objects.get()
    response = sender_client.post(f"/send/{document.pk}/", send_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    envelope = Envelope.objects.get(document=document)

    director = Client()
    token = link_token(
        last_message(template="invitation", recipient="claire.dubois@atelier-lumiere.fr")
    )
    sign_with_code(director, token, "claire.dubois@atelier-lumiere.fr")
    director.post(
        f"/s/{token}/sign/",
        {"signature-method": "typed", "signature-typed": "Claire Dubois", "consent": "1"},
    )
    client = Client()
    client_token = link_token(last_message(template="invitation", recipient="+33698765432"))
    sign_with_code(client, client_token, "+33698765432")
    text_field = document.fields.get(kind="text")
    client.post(
        f"/s/{client_token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Paul Martin",
            f"field-{text_field.pk}": "Bon pour accord",
            "consent": "1",
        },
    )
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    with envelope.sealed.file.open("rb") as fh:
        sealed = fh.read()

    assert active_content(without_our_record(sealed)) == []
    # The payload is gone; only its name stays, in the record of what was removed.
    assert b"This program cannot be run" not in sealed
    assert b"payload.exe" not in without_our_record(sealed)
    qpdf_check(sealed, tmp_path)
    document_text = pdftotext(sealed, tmp_path, "-l", "1")
    assert "{{" not in document_text and "signature:company" not in document_text
    assert FIELD_VALUE in document_text and "Bon pour accord" in document_text
    certificate = " ".join(pdftotext(sealed, tmp_path, "-f", "2", "-raw").split())
    assert "Removed from the uploaded file" in certificate
    assert "JavaScript (4)" in certificate
    assert "2 embedded files 'payload.exe', 'notes.txt'" in certificate
    assert "form fields flattened (1)" in certificate
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    pdfsig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    assert "Signature is Valid" in pdfsig.stdout, pdfsig.stdout

    # The sealed file uploaded again is refused: it carries a signature.
    again = sender_client.post(
        "/documents/upload/", {"title": "Encore", "file": upload(sealed), "language": "en"}
    )
    assert again.status_code == 200
    assert "already carries an electronic signature" in again.content.decode()
