"""Explanations a client understands (issue 11, part 2).

Each case is a real tampered copy of a real sealed PDF: an annotation or a second signature
appended, pages removed, added or swapped, bytes changed inside the seal's container, a scan
carrying the QR code. Each answer names what happened in French and English with a stable
reason code, and an anonymous answer still shows nothing of the original beyond the rule of
verification.diffing.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader, PdfWriter

from tests.verification import pdfs
from verification.models import SealedDocument
from verification.services import seal_pdf

CODE = pdfs.metadata()["code"]


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def three_pages(db: None) -> SealedDocument:
    """A three-page invoice, then the certificate of completion (page 4)."""
    return seal_pdf(pdf_bytes=pdfs.invoice_pdf(pages=3), metadata=pdfs.metadata())


def sealed_file(sealed: SealedDocument) -> bytes:
    with sealed.file.open("rb") as fh:
        return fh.read()


def ask(
    client: Client, data: bytes, *, language: str = "en", name: str = "copie.pdf"
) -> tuple[dict[str, Any], str]:
    """The JSON API's answer and the public page's HTML for the same upload, in `language`."""

    def file() -> SimpleUploadedFile:
        return SimpleUploadedFile(name, data, content_type="application/pdf")

    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    api = client.post(reverse("verification:api_verify"), {"file": file()}, **headers)
    page = client.post(reverse("verification:verify"), {"file": file()}, **headers)
    assert api.status_code == 200, api.content
    assert page.status_code == 200, page.content
    return api.json(), page.content.decode()


def reason(data: dict[str, Any], code: str) -> str:
    found = [r["message"] for r in data["reasons"] if r["code"] == code]
    assert found, f"no {code!r} in {[r['code'] for r in data['reasons']]}"
    return str(found[0])


def html_text(html: str) -> str:
    """The page's visible text on one line, entities decoded (quotes are typographic)."""
    import html as html_lib

    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html)))


# --- building tampered copies --------------------------------------------------------------------


def add_annotation(data: bytes, *, subtype: str = "/FreeText", text: str = "PAID") -> bytes:
    """Append a revision adding an annotation with its appearance on page 1, as an editor does."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    rect = [300, 560, 520, 620]
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica-Bold"),
        }
    )
    appearance = generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/XObject"),
            generic.NameObject("/Subtype"): generic.NameObject("/Form"),
            generic.NameObject("/BBox"): generic.ArrayObject(
                [generic.NumberObject(0), generic.NumberObject(0)]
                + [generic.NumberObject(220), generic.NumberObject(60)]
            ),
            generic.NameObject("/Resources"): generic.DictionaryObject(
                {
                    generic.NameObject("/Font"): generic.DictionaryObject(
                        {generic.NameObject("/F1"): writer.add_object(font)}
                    )
                }
            ),
        },
        stream_data=(
            b"q 0.8 0 0 RG 3 w 2 2 216 56 re S Q "
            b"BT 0.8 0 0 rg /F1 36 Tf 20 16 Td (" + text.encode("latin-1") + b") Tj ET"
        ),
    )
    annotation = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject(subtype),
            generic.NameObject("/Rect"): generic.ArrayObject(
                [generic.NumberObject(v) for v in rect]
            ),
            generic.NameObject("/Contents"): generic.pdf_string(text),
            generic.NameObject("/DA"): generic.pdf_string("/Helv 36 Tf 0.8 0 0 rg"),
            generic.NameObject("/F"): generic.NumberObject(4),
            generic.NameObject("/AP"): generic.DictionaryObject(
                {generic.NameObject("/N"): writer.add_object(appearance)}
            ),
        }
    )
    annots = page.get("/Annots")
    if annots is None:
        annots = generic.ArrayObject()
    else:
        annots = generic.ArrayObject(list(annots.get_object()))
    annots.append(writer.add_object(annotation))
    page[generic.NameObject("/Annots")] = annots
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- 1. an annotation appended after the seal ----------------------------------------------------


def test_an_appended_note_is_named_with_its_text_and_page(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    tampered = add_annotation(sealed_bytes, text="PAID")
    data, html = ask(client, tampered)
    assert data["verdict"] == "modified"
    codes = [r["code"] for r in data["reasons"]]
    assert "annotation_added" in codes and "no_visible_change" not in codes
    message = reason(data, "annotation_added")
    assert message == "After sealing, someone added a note “PAID” on page 1."
    assert message in html_text(html)
    # The note is drawn in the comparison: its region on page 1 is pictured.
    assert [page["page"] for page in data["changes"]["pages"]] == [1]
    assert "No visible difference" not in html_text(html)

    data_fr, html_fr = ask(client, tampered, language="fr")
    message_fr = reason(data_fr, "annotation_added")
    assert message_fr == "Après le scellement, quelqu’un a ajouté une note « PAID » en page 1."
    assert message_fr in html_text(html_fr)


def test_an_appended_stamp_is_named_as_a_stamp(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    data, _html = ask(client, add_annotation(sealed_bytes, subtype="/Stamp", text="APPROVED"))
    assert reason(data, "annotation_added") == (
        "After sealing, someone added a stamp “APPROVED” on page 1."
    )


# --- 2. a second signature appended --------------------------------------------------------------


def self_made_signer(name: str) -> Any:
    """A pyHanko signer with a self-signed certificate, as anyone can make one."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.sign import signers

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=None,
    )


def add_signature(data: bytes, monkeypatch: pytest.MonkeyPatch, *, name: str) -> bytes:
    """Sign the sealed file again, with a visible stamp on page 1, as another tool would.

    pyHanko itself refuses to sign after a "no changes" certification; other tools do not.
    """
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfSigner

    monkeypatch.setattr(PdfSigner, "_enforce_certification_constraints", lambda self, r: None)
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    out = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="SecondSignature", md_algorithm="sha256"),
        signer=self_made_signer(name),
        stamp_style=stamp.TextStampStyle(stamp_text="Signed: %(signer)s", border_width=2),
        new_field_spec=fields.SigFieldSpec("SecondSignature", on_page=0, box=(300, 480, 540, 540)),
    ).sign_pdf(writer)
    return bytes(out.getvalue())


def test_an_appended_second_signature_is_named_with_its_signer_and_date(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    tampered = add_signature(sealed_bytes, monkeypatch, name="Marc Lefebvre")
    year = datetime.datetime.now(datetime.UTC).year
    data, html = ask(client, tampered)
    assert data["verdict"] == "modified"
    message = reason(data, "signature_added")
    assert message.startswith("A second signature by Marc Lefebvre was added after the seal, on ")
    assert str(year) in message
    assert message in html_text(html)
    # Its visible stamp is drawn in the comparison of page 1.
    assert [page["page"] for page in data["changes"]["pages"]] == [1]
    assert "no_visible_change" not in [r["code"] for r in data["reasons"]]

    data_fr, html_fr = ask(client, tampered, language="fr")
    message_fr = reason(data_fr, "signature_added")
    assert message_fr.startswith("Une seconde signature, de Marc Lefebvre, a été ajoutée après")
    assert message_fr in html_text(html_fr)


# --- 3. pages removed, added, reordered ----------------------------------------------------------

PAGE_3 = [
    (72, 770, 16, "Annexe technique : planning de livraison"),
    (72, 740, 10, "Semaine 48 : maquettes des affiches et validation des couleurs"),
    (72, 720, 10, "Semaine 49 : impression des brochures chez l'imprimeur partenaire"),
    (72, 700, 10, "Semaine 50 : livraison sur site et installation en vitrine"),
]
FOREIGN_PAGE = [(72, 770, 16, "Avenant : remise exceptionnelle de cinquante pour cent")]


@pytest.fixture
def three_page_contract(db: None) -> SealedDocument:
    """Three distinct pages, then the certificate of completion (page 4)."""
    from tests.verification.test_privacy import PAGE_1, PAGE_2, text_pdf

    page_1 = [(x, y, size, text.format(amount="10 000,00 €")) for x, y, size, text in PAGE_1]
    return seal_pdf(pdf_bytes=text_pdf([page_1, PAGE_2, PAGE_3]), metadata=pdfs.metadata())


def rearranged(data: bytes, order: list[int], extra: bytes | None = None) -> bytes:
    """The sealed file's pages in `order` (1-based), then the pages of `extra`; no seal."""
    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter()
    for number in order:
        writer.add_page(reader.pages[number - 1])
    if extra is not None:
        for page in PdfReader(io.BytesIO(extra)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def certificate_pages(sealed: SealedDocument) -> list[int]:
    """The pages after the three contract pages: the certificate of completion."""
    return list(range(4, len(PdfReader(io.BytesIO(sealed_file(sealed))).pages) + 1))


def test_a_removed_certificate_is_named_as_such(
    client: Client, three_page_contract: SealedDocument
) -> None:
    upload = rearranged(sealed_file(three_page_contract), [1, 2, 3])
    data, html = ask(client, upload)
    assert data["verdict"] == "modified"
    message = reason(data, "pages_removed")
    certificate = certificate_pages(three_page_contract)
    if len(certificate) == 1:
        assert message == "Page 4, the certificate of completion, was removed."
    else:
        assert message == (
            f"Pages {', '.join(map(str, certificate[:-1]))} and {certificate[-1]}, "
            "the certificate of completion, were removed."
        )
    assert message in html_text(html)
    assert "Some pages of the sealed original are not in this file." not in html_text(html)
    data_fr, html_fr = ask(client, upload, language="fr")
    message_fr = reason(data_fr, "pages_removed")
    assert "le certificat de signature" in message_fr and "supprimée" in message_fr
    assert message_fr.startswith("La page 4," if len(certificate) == 1 else "Les pages 4")
    assert message_fr in html_text(html_fr)


def test_swapped_pages_are_named(client: Client, three_page_contract: SealedDocument) -> None:
    order = [1, 3, 2, *certificate_pages(three_page_contract)]
    data, html = ask(client, rearranged(sealed_file(three_page_contract), order))
    assert data["verdict"] == "modified"
    message = reason(data, "pages_reordered")
    assert message == "Pages 2 and 3 of the sealed document were swapped."
    assert message in html_text(html)
    codes = [r["code"] for r in data["reasons"]]
    assert "pages_removed" not in codes and "pages_added" not in codes
    data_fr, _html_fr = ask(
        client, rearranged(sealed_file(three_page_contract), order), language="fr"
    )
    assert reason(data_fr, "pages_reordered") == (
        "Les pages 2 et 3 du document scellé ont été interverties."
    )


def test_an_added_page_and_a_removed_page_are_named(
    client: Client, three_page_contract: SealedDocument
) -> None:
    from tests.verification.test_privacy import text_pdf

    order = [1, 3, *certificate_pages(three_page_contract)]
    upload = rearranged(sealed_file(three_page_contract), order, extra=text_pdf([FOREIGN_PAGE]))
    added = len(order) + 1
    data, html = ask(client, upload)
    assert reason(data, "pages_removed") == "Page 2 of the sealed document was removed."
    assert reason(data, "pages_added") == (
        f"Page {added} of this file is not in the sealed document: it was added."
    )
    codes = [r["code"] for r in data["reasons"]]
    assert "pages_reordered" not in codes
    text = html_text(html)
    assert "Page 2 of the sealed document was removed." in text
    assert f"Page {added} of this file is not in the sealed document: it was added." in text
    # The removed page is named by its number only: none of its text is shown.
    dumped = json.dumps(data, ensure_ascii=False)
    for secret in ("Conditions générales", "Pénalités de retard", "2 500,00"):
        assert secret not in dumped and secret not in html
    data_fr, _html_fr = ask(client, upload, language="fr")
    assert reason(data_fr, "pages_removed") == "La page 2 du document scellé a été supprimée."
    assert reason(data_fr, "pages_added") == (
        f"La page {added} de ce fichier n’est pas dans le document scellé : elle a été ajoutée."
    )


# --- 4. bytes changed inside the seal's container ------------------------------------------------


def change_in_seal_container(data: bytes, *, offset: int, signature: int = 0) -> bytes:
    """Change one hexadecimal digit of a signature's /Contents (0: the seal, -1: the newest
    document timestamp), `offset` digits from its start (negative: from its end, where the
    zero padding after the signature value is)."""
    found = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data))
    match = found[signature]
    start, end = int(match.group(1)) + int(match.group(2)), int(match.group(3))
    assert data[start : start + 1] == b"<" and data[end - 1 : end] == b">"
    position = start + 1 + offset if offset >= 0 else end - 1 + offset
    digit = data[position : position + 1]
    return data[:position] + (b"1" if digit == b"0" else b"0") + data[position + 1 :]


def test_a_broken_seal_says_the_seal_no_longer_validates(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    # Inside the signature value itself: the signed content is intact, the seal is not.
    data, html = ask(client, change_in_seal_container(sealed_bytes, offset=600))
    assert data["verdict"] == "modified"
    codes = [r["code"] for r in data["reasons"]]
    assert "seal_invalid" in codes and "unsigned_bytes_changed" not in codes
    message = reason(data, "seal_invalid")
    assert message.startswith("The seal no longer validates")
    assert message in html_text(html)
    data_fr, _html_fr = ask(
        client, change_in_seal_container(sealed_bytes, offset=600), language="fr"
    )
    assert reason(data_fr, "seal_invalid").startswith("Le sceau n’est plus valide")


@pytest.mark.parametrize("signature", [0, -1], ids=["seal", "newest-document-timestamp"])
def test_bytes_changed_outside_the_signed_content_are_told_apart(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes, signature: int
) -> None:
    # The zero padding after a signature value: outside the signed content, the seal still
    # validates (a document timestamp covering the seal's container no longer does).
    tampered = change_in_seal_container(sealed_bytes, offset=-2, signature=signature)
    data, html = ask(client, tampered)
    assert data["verdict"] == "modified"
    codes = [r["code"] for r in data["reasons"]]
    assert "unsigned_bytes_changed" in codes and "seal_invalid" not in codes
    assert "appended" not in codes
    message = reason(data, "unsigned_bytes_changed")
    assert "the signed content is identical to the sealed original" in message
    assert message in html_text(html)
    data_fr, _html_fr = ask(client, tampered, language="fr")
    assert "le contenu signé est identique" in reason(data_fr, "unsigned_bytes_changed")


# --- 5. a printed or scanned copy ----------------------------------------------------------------


def scanned(data: bytes, *, dpi: int = 150) -> bytes:
    """Each page as a greyscale picture in an image-only PDF, as a scanner makes it."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    images = [pdf[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(pdf))]
    pdf.close()
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def test_a_scan_carrying_the_qr_code_is_recognised_as_a_paper_copy(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    scan = scanned(sealed_bytes)
    assert "SignFlow" not in PdfReader(io.BytesIO(scan)).pages[0].extract_text()
    data, html = ask(client, scan)
    assert data["verdict"] == "unknown"
    assert data["code"] == CODE
    expected = (
        f"This looks like a printed or scanned copy of sealed document {CODE}. A copy on paper "
        "cannot be verified: ask the sender for the PDF."
    )
    assert reason(data, "paper_copy") == expected
    assert data["message"] == expected
    assert expected in html_text(html)
    assert data["changes"]["pages"] == [] and data["changes"]["text"] == []
    # The public record only (as its QR code's page shows it), nothing of the content.
    dumped = json.dumps(data, ensure_ascii=False)
    for secret in ("10 000,00", "Prestation de conception", "203.0.113.5", "Firefox/140.0"):
        assert secret not in dumped and secret not in html
    data_fr, html_fr = ask(client, scan, language="fr")
    expected_fr = (
        f"Ceci ressemble à une copie imprimée ou numérisée du document scellé {CODE}. Une copie "
        "papier ne peut pas être vérifiée : demandez le PDF à l’expéditeur."
    )
    assert reason(data_fr, "paper_copy") == expected_fr
    assert expected_fr in html_text(html_fr)


def test_a_scan_without_our_qr_code_stays_unknown(client: Client, sealed: SealedDocument) -> None:
    data, _html = ask(client, scanned(pdfs.invoice_pdf()))
    assert data["verdict"] == "unknown"
    assert data["reasons"] == [] and data["code"] is None


# --- privacy: the explanations name pages, never their text --------------------------------------


def test_anonymous_explanations_show_nothing_of_the_original_beyond_the_rule(
    client: Client, db: None
) -> None:
    from tests.verification import test_privacy

    original = seal_pdf(
        pdf_bytes=test_privacy.invoice(), metadata=pdfs.metadata(code=test_privacy.CODE)
    )
    # The original's page 1 behind a page of the uploader's own, the rest removed.
    upload = rearranged(sealed_file(original), [1])
    upload = rearranged(test_privacy.text_pdf([FOREIGN_PAGE]), [1], extra=upload)
    data, html = ask(client, upload)
    codes = [r["code"] for r in data["reasons"]]
    assert {"pages_removed", "pages_added"} <= set(codes)
    assert "pages_reordered" not in codes
    assert reason(data, "pages_added") == (
        "Page 1 of this file is not in the sealed document: it was added."
    )
    assert reason(data, "pages_removed").startswith("Page 2 of the sealed document was removed.")
    test_privacy.assert_nothing_of_the_original(data, html)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_a_photo_of_the_certificate_page_is_recognised_as_a_paper_copy(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes, image_format: str
) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(sealed_bytes)
    # The one-page invoice, then the certificate of completion: its first page has the QR code.
    picture = pdf[1].render(scale=200 / 72).to_pil().convert("RGB")
    pdf.close()
    out = io.BytesIO()
    picture.save(out, format=image_format)
    data, html = ask(client, out.getvalue(), name=f"photo.{image_format.lower()}")
    assert data["verdict"] == "unknown" and data["error"] is None
    assert data["code"] == CODE
    assert [r["code"] for r in data["reasons"]] == ["paper_copy"]
    assert f"copy of sealed document {CODE}" in html_text(html)


def test_a_photo_without_our_qr_code_is_still_not_a_pdf(client: Client, db: None) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, format="PNG")
    response = client.post(
        reverse("verification:api_verify"),
        {"file": SimpleUploadedFile("photo.png", out.getvalue(), content_type="image/png")},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_pdf"
