"""The certificate of completion carries the whole record (issue 11, part 4).

A real envelope goes through the HTTP flow (with one wrong code), gets sealed, and the sealed
PDF is read with poppler (pdftotext, pdffonts, pdfdetach, pdfsig, pdfinfo), pikepdf and pypdf.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from pypdf import PdfReader

from crm.models import Invoice, OwnCompany
from signing.consent import CONSENT_VERSION, consent_text
from signing.models import Envelope, Event, Party
from tests import factories
from tests.signing.conftest import (
    code_in,
    last_message,
    link_token,
    send_form,
    sign_with_code,
    stamp_png,
)
from tests.verification import pdfs
from verification.certificate import level_statement
from verification.services import seal_pdf
from verification.stamping import RECORD_FILE_NAME

pytestmark = pytest.mark.django_db(transaction=True)

DIRECTOR = "claire.dubois@atelier-lumiere.fr"
CLIENT_PHONE = "+33698765432"


@pytest.fixture
def signed_invoice(company: OwnCompany, sender: User) -> Invoice:
    deal = factories.make_deal(company=company, responsible=sender)
    return factories.make_invoice(deal, lines=[("Conception graphique", "1", "8333.33", "20")])


def _sign(token: str, recipient: str, data: dict, *, wrong_code_first: bool = False) -> None:
    signer = Client(HTTP_USER_AGENT="RecordTest/1.0")
    if wrong_code_first:
        assert signer.get(f"/s/{token}/").status_code == 200
        signer.post(f"/s/{token}/code/send/")
        code = code_in(last_message(template="code", recipient=recipient))
        wrong = "000000" if code != "000000" else "111111"
        signer.post(f"/s/{token}/code/", {"code": wrong})
        signer.post(f"/s/{token}/code/", {"code": code})
    else:
        sign_with_code(signer, token, recipient)
    response = signer.post(f"/s/{token}/sign/", {**data, "consent": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]


@pytest.fixture
def completed(sender_client: Client, signed_invoice: Invoice) -> Envelope:
    response = sender_client.post(f"/invoices/{signed_invoice.pk}/send/")
    assert response.status_code == 302
    response = sender_client.post(response["Location"], send_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    envelope = Envelope.objects.get(document__invoice=signed_invoice)
    _sign(
        link_token(last_message(template="invitation", recipient=DIRECTOR)),
        DIRECTOR,
        {
            "signature-method": "typed",
            "signature-typed": "Claire Dubois",
            "stamp-method": "uploaded",
            "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
        },
        wrong_code_first=True,
    )
    _sign(
        link_token(last_message(template="invitation", recipient=CLIENT_PHONE)),
        CLIENT_PHONE,
        {"signature-method": "typed", "signature-typed": "Paul Martin"},
    )
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    return envelope


@pytest.fixture
def sealed_file(completed: Envelope, tmp_path: Path) -> Path:
    assert completed.sealed is not None
    path = tmp_path / "sealed.pdf"
    with completed.sealed.file.open("rb") as fh:
        path.write_bytes(fh.read())
    return path


def _run(*args: str) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _certificate_text(path: Path, document_pages: int) -> str:
    # -raw: content stream order, so a table cell's wrapped lines stay together.
    text = _run("pdftotext", "-f", str(document_pages + 1), "-raw", str(path), "-")
    return re.sub(r"\s+", " ", text)


def _events_before_the_seal(envelope: Envelope) -> list[Event]:
    """What the certificate can show: the seal event and the completion messages follow it."""
    sealed = Event.objects.get(envelope=envelope, type=Event.Type.SEALED)
    return list(Event.objects.filter(envelope=envelope, id__lt=sealed.pk).order_by("id"))


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_signers_consent_words_and_version_are_stored_when_they_sign(
    completed: Envelope,
) -> None:
    for party in completed.parties.all():
        assert party.consent_version == CONSENT_VERSION
        assert party.consent_text == consent_text("en")
        signed = Event.objects.get(envelope=completed, party=party, type=Event.Type.SIGNED)
        assert signed.data["consent_text"] == party.consent_text
        assert signed.data["consent_version"] == CONSENT_VERSION


def test_the_sign_page_shows_exactly_the_stored_consent_words(
    sender_client: Client, signed_invoice: Invoice
) -> None:
    response = sender_client.post(f"/invoices/{signed_invoice.pk}/send/")
    response = sender_client.post(response["Location"], send_form(language="fr"))
    assert response.status_code == 302
    token = link_token(last_message(template="invitation", recipient=DIRECTOR))
    signer = Client()
    sign_with_code(signer, token, DIRECTOR)
    page = signer.get(f"/s/{token}/").content.decode()
    assert consent_text("fr") != consent_text("en")
    assert _flat(consent_text("fr")) in _flat(page)


def test_the_certificate_prints_every_event_consent_images_hashes_and_level(
    completed: Envelope, sealed_file: Path
) -> None:
    document_pages = completed.document.page_count
    text = _certificate_text(sealed_file, document_pages)
    # Every event up to the seal is printed (the "sealed" event comes after the file exists).
    printed = _events_before_the_seal(completed)
    with translation.override("en"):
        for event in printed:
            assert str(event.get_type_display()) in text, event.type
    assert f"{len(printed)} events, hash-chained" in text
    assert printed[-1].hash in text.replace(" ", "")  # the chain head
    # The wrong code shows as attempt 1, the masked recipients, the IPs and user agents.
    failed = [e for e in printed if e.type == Event.Type.CODE_FAILED]
    assert failed and failed[0].data["attempt"] == 1
    assert "c***@a***.fr" in text and "+336******32" in text
    assert "RecordTest/1.0" in text and "127.0.0.1" in text
    assert "UTC" in text and "(Europe/Paris)" in text
    # Consent: the exact words and their version, for each party.
    assert text.count(_flat(consent_text("en"))) == 2
    assert f"Consent text version {CONSENT_VERSION}" in text
    # Hashes: the original, the signed document before the seal, and what covers the file.
    assert completed.document.sha256 in text.replace(" ", "")
    signed_sha = completed.sealed.metadata["signed_sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", signed_sha) and signed_sha in text.replace(" ", "")
    assert "the seal covers this whole file, and its SHA-256 is registered" in text
    assert _flat(level_statement()) in text
    # Each party's signature (and the director's stamp) is drawn on the certificate.
    images = _run("pdfimages", "-f", str(document_pages + 1), "-list", str(sealed_file))
    assert len(images.strip().splitlines()[2:]) >= 3  # two signatures, one stamp (+ QR)


def test_the_record_is_attached_covered_by_the_seal_and_matches_the_database(
    completed: Envelope, sealed_file: Path
) -> None:
    listing = _run("pdfdetach", "-list", str(sealed_file))
    assert RECORD_FILE_NAME in listing
    reader = PdfReader(sealed_file)
    record = json.loads(reader.attachments[RECORD_FILE_NAME][0])
    assert [e["hash"] for e in record["events"]] == [
        e.hash for e in _events_before_the_seal(completed)
    ]
    assert record["audit_head"] == record["events"][-1]["hash"]
    parties = {p.role: p for p in completed.parties.all()}
    for entry in record["parties"]:
        party: Party = parties[entry["role"]]
        assert entry["consent_text"] == party.consent_text
        assert entry["consent_version"] == party.consent_version
        assert entry["images"], entry["role"]
        for image in entry["images"]:
            assert image["data_uri"].startswith("data:image/png;base64,")
    kinds = {i["kind"] for p in record["parties"] for i in p["images"]}
    assert kinds == {"signature", "stamp"}
    assert record["hashes"]["original_sha256"] == completed.document.sha256
    assert record["hashes"]["signed_sha256"] == completed.sealed.metadata["signed_sha256"]
    assert record["level"]["qualified"] is False
    # The attachment is in the certified revision: the seal still covers the whole file.
    pdfs.assert_pdfsig_lta(_run("pdfsig", str(sealed_file)))
    # The registry keeps the images' hashes, not the images.
    stored = completed.sealed.metadata["parties"]
    assert all("data_uri" not in i for p in stored for i in p["images"])
    assert all(i["sha256"] for p in stored for i in p["images"])


def test_every_font_is_embedded_and_the_file_has_xmp_metadata(
    completed: Envelope, sealed_file: Path
) -> None:
    fonts = _run("pdffonts", str(sealed_file)).strip().splitlines()[2:]
    assert fonts
    for line in fonts:
        columns = line.split()
        # name type [encoding...] emb sub uni object ID: "emb" is the 5th field from the end.
        assert columns[-5] == "yes", line
    with pikepdf.open(sealed_file) as pdf:
        meta = pdf.open_metadata()
        assert meta.get("dc:title") == completed.title
        assert meta.get("dc:identifier") == completed.public_id
        assert meta.get("pdf:Producer")


def test_a_letter_document_gets_a_letter_certificate_page(db: None) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdfs.invoice_pdf())))
    page = writer.pages[0]
    page.mediabox.upper_right = (612, 792)
    out = io.BytesIO()
    writer.write(out)
    sealed = seal_pdf(pdf_bytes=out.getvalue(), metadata=pdfs.metadata(code="LETTER000001"))
    with sealed.file.open("rb") as fh:
        reader = PdfReader(io.BytesIO(fh.read()))
    assert len(reader.pages) >= 2
    for certificate_page in reader.pages[1:]:
        box = certificate_page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_an_a4_document_keeps_an_a4_certificate_page(sealed_bytes: bytes) -> None:
    reader = PdfReader(io.BytesIO(sealed_bytes))
    box = reader.pages[-1].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_the_verify_page_states_the_level_in_french_and_english(
    client: Client, sealed: object
) -> None:
    statements = set()
    for language in ("fr", "en"):
        response = client.get("/verify/K7M2P9XQ4TAB/", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        with translation.override(language):
            statement = level_statement()
        statements.add(statement)
        assert _flat(statement) in _flat(response.content.decode())
    assert len(statements) == 2  # translated, not the English text twice


def test_message_events_name_the_provider_id_and_the_masked_recipient(
    completed: Envelope,
) -> None:
    from signing.models import Message
    from signing.record import events_record

    sms = Message.objects.filter(envelope=completed, recipient=CLIENT_PHONE).first()
    assert sms is not None
    Message.objects.filter(pk=sms.pk).update(provider_id="SM0123456789abcdef")
    rows = [r for r in events_record(completed) if r["type"] == Event.Type.MESSAGE_SENT]
    row = next(r for r in rows if r["provider_message_id"] == "SM0123456789abcdef")
    assert row["recipient_masked"] == "+336******32"
    assert row["channel"] == "sms"
    # SignFlow sent it; the party is only its recipient.
    assert (row["actor"], row["actor_kind"]) == ("SignFlow", "system")
    assert CLIENT_PHONE not in json.dumps(events_record(completed))
