"""The document language is the document's: an invoice sent from an English interface with
"Document language: French" is a French invoice (PDF, money, dates, title, field labels,
messages, certificate page), and the reverse; the sealed PDF speaks one language only."""

import datetime
import subprocess
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from crm.models import Invoice, InvoiceLine, OwnCompany
from documents.models import Document
from signing import services
from signing.demo import _sign, _stamp
from signing.models import Envelope, Message, Party
from tests import factories
from tests.signing.conftest import send_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(company: OwnCompany, sender: User) -> Invoice:
    """8 925,37 € incl. VAT, due 30 November 2026."""
    deal = factories.make_deal(company=company, responsible=sender)
    invoice = factories.make_invoice(deal, lines=[("Refonte du site", "1", "7437.81", "20")])
    Invoice.objects.filter(pk=invoice.pk).update(due_date=datetime.date(2026, 11, 30))
    invoice.refresh_from_db()
    assert invoice.totals()["gross"] == Decimal("8925.37")
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 1
    return invoice


# The invoice's heading, a label, its total, its due date and the certificate page's title.
FRENCH = ("FACTURE", "Facturé à", "8 925,37 €", "30/11/2026", "Certificat de signature")
ENGLISH = ("INVOICE", "Billed to", "€8,925.37", "11/30/2026", "Certificate of completion")


def _speaks_only(text: str, language: tuple[str, ...], other: tuple[str, ...]) -> None:
    for words in language:
        assert words in text, words
    for words in other:
        assert words not in text, words


def _fr(message: str) -> str:
    with translation.override("fr"):
        return gettext(message)


def _text(pdf: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    # Money is printed with no-break spaces ("8 925,37 €"): compare with plain spaces.
    return " ".join(out.replace("\u00a0", " ").replace("\u202f", " ").split())


def _send(client: Client, invoice: Invoice, *, interface: str, language: str, capture) -> Envelope:
    with capture(execute=True):
        # The button's form does not say: the document starts in the employee's language.
        response = client.post(f"/invoices/{invoice.pk}/send/", HTTP_ACCEPT_LANGUAGE=interface)
        assert response.status_code == 302
        response = client.post(
            response["Location"], send_form(language=language), HTTP_ACCEPT_LANGUAGE=interface
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    return Envelope.objects.select_related("document").get(source_key=f"invoice:{invoice.pk}")


def _complete(envelope: Envelope, capture) -> bytes:
    with capture(execute=True):
        for party in envelope.parties.order_by("order"):
            party.refresh_from_db()
            _sign(party, typed_name=party.name, stamp=_stamp() if party.role == "company" else None)
    envelope.refresh_from_db()
    if envelope.status == Envelope.Status.SEALING:
        envelope = services.envelope_seal(envelope_id=envelope.pk)
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    assert envelope.sealed is not None
    with envelope.sealed.file.open("rb") as fh:
        return fh.read()


def test_an_english_interface_sends_a_french_invoice(
    sender_client: Client, invoice: Invoice, django_capture_on_commit_callbacks
):
    envelope = _send(
        sender_client,
        invoice,
        interface="en",
        language="fr",
        capture=django_capture_on_commit_callbacks,
    )

    document = envelope.document
    assert document.language == envelope.language == "fr"
    assert envelope.title == document.title == f"Facture {invoice.number}"
    # The English draft made by the click was replaced, not kept beside the French one.
    assert Document.objects.filter(invoice=invoice).count() == 1
    labels = set(document.fields.values_list("label", flat=True))
    assert _fr("Company stamp") in labels and "Company stamp" not in labels
    invitation = Message.objects.filter(template="invitation").latest("id")
    assert f"Facture {invoice.number}" in invitation.subject + invitation.body
    assert "Invoice" not in invitation.subject

    with document.pdf.open("rb") as fh:
        draft = _text(fh.read())
    assert "FACTURE" in draft and "INVOICE" not in draft

    _speaks_only(_text(_complete(envelope, django_capture_on_commit_callbacks)), FRENCH, ENGLISH)


def test_a_french_interface_sends_an_english_invoice(
    client: Client, sender: User, invoice: Invoice, django_capture_on_commit_callbacks
):
    client.force_login(sender)
    envelope = _send(
        client,
        invoice,
        interface="fr",
        language="en",
        capture=django_capture_on_commit_callbacks,
    )

    assert envelope.document.language == "en"
    assert envelope.title == f"Invoice {invoice.number}"
    _speaks_only(_text(_complete(envelope, django_capture_on_commit_callbacks)), ENGLISH, FRENCH)


def test_the_language_on_the_invoice_button_decides_from_the_start(
    sender_client: Client, invoice: Invoice
):
    response = sender_client.post(
        f"/invoices/{invoice.pk}/send/", {"language": "fr"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    document = Document.objects.get(invoice=invoice)
    assert document.language == "fr" and document.title.startswith("Facture")


def test_an_unknown_language_on_the_button_falls_back_to_french(
    sender_client: Client, invoice: Invoice
):
    response = sender_client.post(f"/invoices/{invoice.pk}/send/", {"language": "xx"})
    assert response.status_code == 302
    assert Document.objects.get(invoice=invoice).language == "fr"


def test_an_upload_keeps_its_pdf_but_its_default_labels_follow_the_language(
    sender_client: Client, sender: User, django_capture_on_commit_callbacks
):
    from documents.services import document_create_from_upload
    from tests.documents.conftest import blank_pdf, upload

    document = document_create_from_upload(
        uploaded_file=upload(blank_pdf()), title="Contrat", creator=sender, language="en"
    )
    document.fields.filter(key="client-signature").update(label="Signature du client, SVP")
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/send/{document.pk}/", send_form(language="fr"))
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.language == "fr"
    labels = dict(document.fields.values_list("key", "label"))
    assert labels["company-stamp"] == _fr("Company stamp") != "Company stamp"
    assert labels["client-signature"] == "Signature du client, SVP"  # typed by someone: kept
    assert Envelope.objects.get(document=document).language == "fr"
    assert Party.objects.filter(envelope__document=document).count() == 2


def test_the_send_screen_shows_the_document_in_the_chosen_language(
    sender_client: Client, invoice: Invoice
):
    response = sender_client.post(f"/invoices/{invoice.pk}/send/", {"language": "en"})
    english = Document.objects.get(invoice=invoice)

    response = sender_client.post(f"/send/{english.pk}/language/", {"language": "fr"})

    french = Document.objects.get(invoice=invoice)
    assert response["Location"] == f"/send/{french.pk}/"
    assert french.pk != english.pk and french.language == "fr"
    assert french.title == f"Facture {invoice.number}"
    envelope = Envelope.objects.get()
    assert envelope.document == french and envelope.language == "fr"
    assert envelope.title == french.title
    page = sender_client.get(response["Location"]).content.decode()
    assert 'id="apply-language"' in page


def test_an_unknown_language_on_the_send_screen_changes_nothing(
    sender_client: Client, invoice: Invoice
):
    sender_client.post(f"/invoices/{invoice.pk}/send/", {"language": "en"})
    document = Document.objects.get(invoice=invoice)

    response = sender_client.post(f"/send/{document.pk}/language/", {"language": "de"}, follow=True)

    assert response.status_code == 200
    assert "Choose French or English." in response.content.decode()
    assert Document.objects.get(invoice=invoice) == document
    assert Envelope.objects.get().language == "en"
