"""Bidirectional-text spoofing: a signer who types U+202E (right-to-left override) and then
"0001" must not get "1000" into the sealed PDF. Invisible characters are removed where text
enters (signer fields, typed signatures, decline reasons, the send form, CRM forms) and from
CRM values on their way into a template."""

import subprocess
import unicodedata
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfReader

from crm.models import Counterparty
from documents.contexts import invoice_context
from documents.models import Field
from signflow.text import INVISIBLE_ASTRAL, INVISIBLE_BMP, clean_text
from signing.models import Envelope, FieldValue, Party
from tests import factories
from tests.signing.conftest import (  # noqa: F401  (fixtures of the signing flow)
    invoice,
    last_message,
    link_token,
    send_form,
    sent_envelope,
    sign_with_code,
    stamp_png,
)

pytestmark = pytest.mark.django_db

DIRECTOR = "claire.dubois@atelier-lumiere.fr"
CLIENT_PHONE = "+33698765432"
RLO = "\u202e"
# A box in the invoice's top margin, blank in the original (checked below).
BOX = {"page": 1, "x": 380.0, "y": 812.0, "width": 180.0, "height": 20.0}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (RLO + "0001", "0001"),
        ("\u202b0001\u202c", "0001"),  # embedding and pop
        ("\u20660001\u2069\u2067x\u2068", "0001x"),  # isolates
        ("\u200e12\u200f34\u061c", "1234"),  # marks
        ("Cl\u200baire\u200c Du\u200dbois\u2060\ufeff", "Claire Dubois"),  # zero-width
        ("Du\u00adbois", "Dubois"),  # soft hyphen
        ("Paul\x00\x07\x1b Martin", "Paul Martin"),  # C0 controls
        ("Ce\u0301line", "Céline"),  # NFC
        ("e\u200b\u0301", "é"),  # NFC after the removal
        ("ligne 1\r\nligne 2\tfin", "ligne 1 ligne 2 fin"),  # one line
        ("Cl\U000e0041aire \U0001f642\u200d", "Claire \U0001f642"),  # tags, outside the BMP
    ],
)
def test_clean_text_removes_what_a_reader_cannot_see(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_the_invisible_class_is_every_control_format_and_surrogate_character() -> None:
    # Checked against this Python's Unicode database: a newer one that adds a format character
    # fails here until INVISIBLE lists it.
    expected = {
        chr(c)
        for c in range(0x110000)
        if unicodedata.category(chr(c)) in {"Cc", "Cf", "Cs"} and chr(c) not in "\t\n"
    }
    matched = {
        chr(c)
        for c in range(0x110000)
        if (INVISIBLE_BMP if c <= 0xFFFF else INVISIBLE_ASTRAL).fullmatch(chr(c))
    }
    assert matched == expected


def test_multi_line_text_keeps_its_line_breaks_and_tabs() -> None:
    assert clean_text("3 place\r\ndu Marché\u2028Paris\t75011", multiline=True) == (
        "3 place\ndu Marché\nParis\t75011"
    )


def _pdftotext_box(pdf: Path, page_height: float) -> str:
    top = page_height - BOX["y"] - BOX["height"]
    result = subprocess.run(
        [
            "pdftotext",
            "-f",
            "1",
            "-l",
            "1",
            "-r",
            "72",
            "-x",
            str(int(BOX["x"])),
            "-y",
            str(int(top)),
            "-W",
            str(int(BOX["width"])),
            "-H",
            str(int(BOX["height"])),
            str(pdf),
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_an_override_typed_by_the_signer_does_not_reach_the_sealed_pdf(
    sent_envelope: Envelope,  # noqa: F811
    tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> None:
    document = sent_envelope.document
    field = Field.objects.create(
        document=document,
        key="reference",
        kind=Field.Kind.TEXT,
        role="company",
        label="Réf.",
        **BOX,
    )
    original = tmp_path / "original.pdf"
    original.write_bytes(document.pdf.read())
    page_height = float(PdfReader(original).pages[0].mediabox.height)
    assert _pdftotext_box(original, page_height) == ""  # the box is blank before signing

    director = Client()
    token = link_token(last_message(template="invitation", recipient=DIRECTOR))
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(director, token, DIRECTOR)
        response = director.post(
            f"/s/{token}/sign/",
            {
                "signature-method": "typed",
                "signature-typed": RLO + "Claire\u200b Dubois",
                "stamp-method": "uploaded",
                "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
                f"field-{field.pk}": RLO + "0001",
                "consent": "1",
            },
        )
    assert response.status_code == 302
    assert FieldValue.objects.get(field=field).text == "0001"

    client = Client()
    client_token = link_token(last_message(template="invitation", recipient=CLIENT_PHONE))
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(client, client_token, CLIENT_PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/s/{client_token}/sign/",
            {"signature-method": "typed", "signature-typed": "Paul Martin", "consent": "1"},
        )
    assert response.status_code == 302
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.COMPLETED, sent_envelope.sealing_error
    assert sent_envelope.sealed is not None
    sealed = tmp_path / "sealed.pdf"
    sealed.write_bytes(sent_envelope.sealed.file.read())
    text = _pdftotext_box(sealed, page_height)
    assert text == "0001", text
    assert RLO not in text


def test_a_decline_reason_loses_its_override(sent_envelope: Envelope) -> None:  # noqa: F811
    director = Client()
    token = link_token(last_message(template="invitation", recipient=DIRECTOR))
    sign_with_code(director, token, DIRECTOR)
    director.post(f"/s/{token}/decline/", {"reason": "Montant " + RLO + "0001 faux\r\nmerci"})
    sent_envelope.refresh_from_db()
    assert sent_envelope.closed_reason == "Montant 0001 faux\nmerci"
    assert sent_envelope.parties.get(role=Party.Role.COMPANY).decline_reason == (
        "Montant 0001 faux\nmerci"
    )


def test_a_crm_name_typed_with_zero_width_characters_is_stored_clean(
    sender_client: Client,
) -> None:
    response = sender_client.post(
        "/crm/counterparties/new/",
        {
            "kind": "company",
            "legal_name": "Boulan\u200bgerie\u200d Mar\u2060tin\ufeff SARL",
            "legal_form": "SA\u00adRL",
            "siren": "552 100 554",
            "address": "3 place du Marché\u202e\r\n75011 Paris",
            "email": "contact@boulangerie-martin.fr",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    counterparty = Counterparty.objects.get(siren="552100554")
    assert counterparty.legal_name == "Boulangerie Martin SARL"
    assert counterparty.legal_form == "SARL"
    assert counterparty.address == "3 place du Marché\n75011 Paris"


def test_the_send_form_cleans_names_and_the_message(
    sender_client: Client,
    invoice,  # noqa: F811
) -> None:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    response = sender_client.post(
        response["Location"],
        send_form(
            **{
                "company-name": "Claire\u200b " + RLO + "Dubois",
                "note": "Merci " + RLO + "de signer\r\nCordialement",
            }
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    envelope = Envelope.objects.get(document__invoice=invoice)
    assert envelope.parties.get(role=Party.Role.COMPANY).name == "Claire Dubois"
    assert envelope.note == "Merci de signer\nCordialement"


def test_crm_values_saved_before_the_cleaning_reach_templates_clean(company, sender) -> None:
    counterparty = factories.make_counterparty(
        legal_name="Boulan\u200bgerie " + RLO + "Martin", address="3 place\u2066 du Marché\n75011"
    )
    deal = factories.make_deal(company=company, responsible=sender, counterparty=counterparty)
    bill = factories.make_invoice(
        deal, lines=[("Concep\u200btion " + RLO + "0001", "1", "10", "20")]
    )
    context = invoice_context(bill, language="fr")
    assert context["client"]["legal_name"] == "Boulangerie Martin"
    assert context["client"]["address"] == "3 place du Marché\n75011"
    assert context["lines"][0]["description"] == "Conception 0001"
