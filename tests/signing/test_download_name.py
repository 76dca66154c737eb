"""The sealed file downloads under the document's name, in the document's language (issue 12):
"Facture F-2026-00001 - signée.pdf", with a plain ASCII fallback in Content-Disposition."""

from urllib.parse import unquote

import pytest
from django.core import mail
from django.test import Client

from crm.models import Invoice
from signing.downloads import content_disposition
from signing.models import Envelope
from tests.signing.conftest import (
    director_signs,
    last_message,
    link_token,
    send_form,
    sign_with_code,
)


def _names(header: str) -> tuple[str, str]:
    """(the ASCII filename=, the decoded filename*=) of a Content-Disposition header."""
    assert header.startswith("attachment; ")
    plain = header.split('filename="', 1)[1].split('"', 1)[0]
    star = header.split("filename*=UTF-8''", 1)[1]
    return plain, unquote(star)


def test_the_header_carries_an_ascii_fallback_and_the_accented_name() -> None:
    header = content_disposition("Facture F-2026-00001 - signée.pdf")
    assert header == (
        'attachment; filename="Facture F-2026-00001 - signee.pdf"; '
        "filename*=UTF-8''Facture%20F-2026-00001%20-%20sign%C3%A9e.pdf"
    )
    header.encode("ascii")  # a header is ASCII whatever the title


@pytest.mark.parametrize(
    "title",
    ["../../etc/passwd", 'Devis "spécial"; filename=evil.exe', "Ligne\r\nX-Injected: 1", "", "   "],
)
def test_a_hostile_or_empty_title_gives_a_harmless_name(title: str) -> None:
    header = content_disposition(f"{title}.pdf")
    header.encode("ascii")
    assert "\r" not in header and "\n" not in header
    plain, decoded = _names(header)
    for name in (plain, decoded):
        assert "/" not in name and "\\" not in name and '"' not in name and ";" not in name
        assert name.endswith(".pdf") and len(name) > len(".pdf")


def _complete(sender_client: Client, invoice: Invoice, language: str) -> Envelope:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    response = sender_client.post(response["Location"], send_form(language=language))
    assert response.status_code == 302, response.content.decode()[:2000]
    envelope = Envelope.objects.get(document__invoice=invoice)
    director_signs(envelope)
    client = Client()
    client_token = link_token(last_message(template="invitation", recipient="+33698765432"))
    sign_with_code(client, client_token, "+33698765432")
    response = client.post(
        f"/s/{client_token}/sign/",
        {"signature-method": "typed", "signature-typed": "Paul Martin", "consent": "1"},
    )
    assert response.status_code == 302
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    return envelope


@pytest.mark.django_db(transaction=True)
def test_every_download_of_a_french_document_is_named_after_it(
    sender_client: Client, invoice: Invoice
) -> None:
    # The sender's interface is English; the document is French.
    envelope = _complete(sender_client, invoice, "fr")
    expected = ("Facture F-2026-00001 - signee.pdf", "Facture F-2026-00001 - signée.pdf")
    response = sender_client.get(f"/envelopes/{envelope.pk}/download/")
    assert response.status_code == 200
    assert _names(response["Content-Disposition"]) == expected
    client_token = link_token(last_message(template="invitation", recipient="+33698765432"))
    response = Client().get(f"/s/{client_token}/download/")
    assert response.status_code == 200
    assert _names(response["Content-Disposition"]) == expected
    assert response.getvalue()[:5] == b"%PDF-"  # streamed from the storage
    attached = [m for m in mail.outbox if m.attachments]
    assert attached and attached[-1].attachments[0][0] == expected[1]


@pytest.mark.django_db
def test_an_english_document_is_named_in_english(invoice: Invoice) -> None:
    from signing.downloads import sealed_filename

    envelope = Envelope(title="Invoice F-2026-00001", language="en")
    assert sealed_filename(envelope) == "Invoice F-2026-00001 - signed.pdf"
    envelope.language = "fr"
    envelope.title = "Facture F-2026-00001"
    assert sealed_filename(envelope) == "Facture F-2026-00001 - signée.pdf"


@pytest.mark.django_db
def test_the_copy_before_signing_is_named_after_the_document_too(sent_envelope: Envelope) -> None:
    from tests.signing.conftest import party

    sent_envelope.language = "fr"
    sent_envelope.title = "Facture F-2026-00001"
    sent_envelope.save(update_fields=["language", "title"])
    director = party(sent_envelope, "company")
    token = link_token(last_message(template="invitation", recipient=director.recipient))
    signer = Client()
    sign_with_code(signer, token, director.recipient)
    response = signer.post(f"/s/{token}/copy.pdf")
    assert response.status_code == 200
    assert _names(response["Content-Disposition"]) == (
        "Facture F-2026-00001 - non signee.pdf",
        "Facture F-2026-00001 - non signée.pdf",
    )
