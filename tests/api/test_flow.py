"""A whole envelope through the API: CRM records, an invoice with lines, its document rendered
from a template, an envelope created with its parties and sent, both parties signing through
their links, then the sealed PDF and the certificate downloaded and checked with poppler."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from signing.models import Envelope
from tests.api.conftest import Api
from tests.signing.conftest import last_message, link_token, sign_with_code, stamp_png
from tests.verification import pdfs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils missing"),
]

DIRECTOR = "claire.dubois@atelier-lumiere.fr"
CLIENT_PHONE = "+33698765432"


def _created(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == 201, response.content.decode()[:2000]
    return response.json()


def test_it_drives_an_envelope_from_crm_records_to_the_sealed_pdf(
    sender_api: Api, company, tmp_path: Path
) -> None:
    counterparty = _created(
        sender_api.post(
            "/counterparties",
            {"legal_name": "Boulangerie Martin SARL", "siren": "552 100 554", "kind": "company"},
        )
    )
    assert counterparty["siren"] == "552100554"  # normalised as on the pages
    contact = _created(
        sender_api.post(
            f"/counterparties/{counterparty['id']}/contacts",
            {"name": "Paul Martin", "phone": "06 98 76 54 32"},
        )
    )
    assert contact["phone"] == CLIENT_PHONE
    deal = _created(
        sender_api.post(
            "/deals",
            {
                "title": "Refonte de la vitrine",
                "counterparty_id": counterparty["id"],
                "contact_id": contact["id"],
                "amount": "10000.00",
            },
        )
    )
    invoice = _created(
        sender_api.post(
            "/invoices",
            {
                "deal_id": deal["id"],
                "issue_date": "2026-11-20",
                "due_date": "2026-12-20",
                "lines": [
                    {
                        "description": "Conception",
                        "quantity": "1",
                        "unit_price": "8333.33",
                        "vat_rate": "20",
                    },
                    {
                        "description": "Affiches",
                        "quantity": "250",
                        "unit_price": "1.20",
                        "vat_rate": "5.5",
                    },
                ],
            },
        )
    )
    assert invoice["totals"] == {"net": "8633.33", "vat": "1683.17", "gross": "10316.50"}

    templates = sender_api.get("/templates").json()
    invoice_template = next(
        t for t in templates if t["kind"] == "invoice" and t["language"] == "en"
    )
    document = _created(
        sender_api.post(
            "/documents/from-template",
            {"template_id": invoice_template["id"], "invoice_id": invoice["id"]},
        )
    )
    assert {f["role"] for f in document["fields"]} == {"company", "client"}

    envelope = _created(
        sender_api.post(
            "/envelopes",
            {
                "document_id": document["id"],
                "parties": [
                    {
                        "role": "company",
                        "name": "Claire Dubois",
                        "email": DIRECTOR,
                        "is_company": True,
                    },
                    {
                        "role": "client",
                        "name": "Paul Martin",
                        "phone": "06 98 76 54 32",
                        "channel": "sms",
                    },
                ],
                "language": "en",
                "reminder_every_days": 3,
                "message": "Merci de signer la facture.",
            },
            headers={"Idempotency-Key": "create-1"},
        )
    )
    assert envelope["status"] == "draft"
    assert [p["status"] for p in envelope["parties"]] == ["planned", "planned"]

    sent = sender_api.post(f"/envelopes/{envelope['id']}/send", headers={"Idempotency-Key": "s1"})
    assert sent.status_code == 200, sent.content
    assert sent.json()["status"] == "awaiting_company"
    assert [p["role"] for p in sent.json()["parties"]] == ["company", "client"]

    director = Client()
    token = link_token(last_message(template="invitation", recipient=DIRECTOR))
    sign_with_code(director, token, DIRECTOR)
    response = director.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Claire Dubois",
            "stamp-method": "uploaded",
            "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
            "consent": "1",
        },
    )
    assert response.status_code == 302
    signer = Client()
    client_token = link_token(last_message(template="invitation", recipient=CLIENT_PHONE))
    sign_with_code(signer, client_token, CLIENT_PHONE)
    response = signer.post(
        f"/s/{client_token}/sign/",
        {"signature-method": "typed", "signature-typed": "Paul Martin", "consent": "1"},
    )
    assert response.status_code == 302

    detail = sender_api.get(f"/envelopes/{envelope['id']}").json()
    assert detail["status"] == Envelope.Status.COMPLETED, detail
    assert [p["status"] for p in detail["parties"]] == ["signed", "signed"]
    assert {"sent", "signed", "sealed"} <= {e["type"] for e in detail["events"]}
    assert all(f["filled"] for f in detail["fields"] if f["required"])
    assert detail["messages"] and detail["sealed"]["code"]

    sealed = sender_api.get(f"/envelopes/{envelope['id']}/sealed.pdf")
    assert sealed.status_code == 200 and sealed["Content-Type"] == "application/pdf"
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed.content)
    pdfsig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    pdfs.assert_pdfsig_lta(pdfsig.stdout)

    certificate = sender_api.get(f"/envelopes/{envelope['id']}/certificate.pdf")
    assert certificate.status_code == 200
    cert_path = tmp_path / "certificate.pdf"
    cert_path.write_bytes(certificate.content)
    text = subprocess.run(
        ["pdftotext", str(cert_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Paul Martin" in text and "Claire Dubois" in text
