"""The whole path through the HTTP client: invoice -> send -> director signs -> client signs ->
sealed PDF checked by poppler and qpdf -> the public verification page says authentic."""

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from crm.models import Invoice
from signing.audit import chain_check
from signing.models import Envelope, Event, Message, Party
from tests.signing.conftest import (
    last_message,
    link_token,
    send_form,
    sign_with_code,
    stamp_png,
)
from tests.verification import pdfs

pytestmark = pytest.mark.django_db(transaction=True)


def _complete(sender_client: Client, invoice: Invoice) -> Envelope:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    assert response.status_code == 302
    assert sender_client.get(response["Location"]).status_code == 200
    response = sender_client.post(response["Location"], send_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    envelope = Envelope.objects.get(document__invoice=invoice)
    assert envelope.status == Envelope.Status.AWAITING_COMPANY

    # Only the director has a message; the client has none before the company signs.
    invitation = last_message(template="invitation", recipient="claire.dubois@atelier-lumiere.fr")
    assert invitation.status == Message.Status.SENT
    assert not Message.objects.filter(recipient="+33698765432").exists()

    director = Client()
    token = link_token(invitation)
    sign_with_code(director, token, "claire.dubois@atelier-lumiere.fr")
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
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.AWAITING_CLIENT

    sms = last_message(template="invitation", recipient="+33698765432")
    assert sms.channel == "sms"
    client = Client()
    client_token = link_token(sms)
    sign_with_code(client, client_token, "+33698765432")
    response = client.post(
        f"/s/{client_token}/sign/",
        {"signature-method": "typed", "signature-typed": "Paul Martin", "consent": "1"},
    )
    assert response.status_code == 302
    envelope.refresh_from_db()
    return envelope


def test_it_signs_an_invoice_end_to_end_and_seals_it(
    sender_client: Client, invoice: Invoice, tmp_path: Path
):
    envelope = _complete(sender_client, invoice)

    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    assert envelope.sealed is not None
    sealed_path = tmp_path / "sealed.pdf"
    sealed_path.write_bytes(envelope.sealed.file.read())

    pdfsig = subprocess.run(["pdfsig", str(sealed_path)], capture_output=True, text=True)
    # PAdES B-LTA: the seal is valid, the last document timestamp covers the whole file.
    pdfs.assert_pdfsig_lta(pdfsig.stdout)
    qpdf = subprocess.run(["qpdf", "--check", str(sealed_path)], capture_output=True, text=True)
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr
    assert "No syntax or stream encoding errors" in qpdf.stdout

    # Both parties get the sealed PDF: the email carries it, the SMS a download link.
    completed = Message.objects.filter(envelope=envelope, template="completed")
    assert {m.recipient for m in completed} >= {"claire.dubois@atelier-lumiere.fr", "+33698765432"}
    assert all(m.status == Message.Status.SENT for m in completed)
    from django.core import mail

    attached = [m for m in mail.outbox if m.attachments and "claire.dubois" in m.to[0]]
    assert attached and attached[-1].attachments[0][2] == "application/pdf"

    # The audit trail is intact and complete.
    assert chain_check(envelope=envelope).ok
    types = list(envelope.events.values_list("type", flat=True))
    for expected in [
        "created",
        "sent",
        "link_opened",
        "code_sent",
        "code_confirmed",
        "signed",
        "sealed",
    ]:
        assert expected in types

    # The public page says authentic for the sealed file and unknown for another PDF.
    public = Client()
    with sealed_path.open("rb") as fh:
        response = public.post("/verify/", {"file": fh})
    assert response.status_code == 200
    assert response.context["result"].verdict == "authentic"
    original = envelope.document.pdf.read()
    other = SimpleUploadedFile("other.pdf", original, "application/pdf")
    response = public.post("/verify/", {"file": other})
    assert response.context["result"].verdict == "unknown"

    # The client's link now offers the sealed PDF.
    sms_token = link_token(last_message(template="invitation", recipient="+33698765432"))
    download = Client().get(f"/s/{sms_token}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"

    # After the retention period the link says so; the verification page keeps working.
    later = timezone.now() + datetime.timedelta(days=15)
    with time_machine.travel(later):
        gone = Client().get(f"/s/{sms_token}/download/")
        assert gone.status_code == 410
        assert "no longer available" in gone.content.decode()
        with sealed_path.open("rb") as fh:
            assert Client().post("/verify/", {"file": fh}).context["result"].verdict == "authentic"


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils missing")
def test_the_signer_page_shows_the_documents_pages(sender_client: Client, invoice: Invoice):
    sender_client.post(f"/invoices/{invoice.pk}/send/")
    envelope = Envelope.objects.get(document__invoice=invoice)
    sender_client.post(f"/send/{envelope.document_id}/", send_form())
    token = link_token(
        last_message(template="invitation", recipient="claire.dubois@atelier-lumiere.fr")
    )
    page = Client().get(f"/s/{token}/pages/1.png")
    assert page.status_code == 200
    assert page.content.startswith(b"\x89PNG")
    assert envelope.parties.get(role=Party.Role.COMPANY).status == Party.Status.ACTIVE
    assert Event.objects.filter(envelope=envelope, type="sent").count() == 1
