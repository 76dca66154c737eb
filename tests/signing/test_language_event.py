"""Changing a draft's document language is a state change: it writes a `language_changed`
event, with its actor, in the transaction that changes the language (and nothing when nothing
changes or the change is refused)."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client

from crm.models import Invoice
from documents.models import Document
from signing import audit, services
from signing.models import Envelope, Event
from tests.documents.conftest import blank_pdf, upload

pytestmark = pytest.mark.django_db


def _language_events(envelope: Envelope) -> list[Event]:
    return list(envelope.events.filter(type=Event.Type.LANGUAGE_CHANGED).order_by("id"))


def test_the_send_screen_language_change_is_in_the_audit_trail(
    sender_client: Client, sender: User, invoice: Invoice
) -> None:
    sender_client.post(f"/invoices/{invoice.pk}/send/", {"language": "en"})
    english = Document.objects.get(invoice=invoice)

    sender_client.post(f"/send/{english.pk}/language/", {"language": "fr"})

    envelope = Envelope.objects.get()
    [event] = _language_events(envelope)
    assert event.actor == sender
    assert event.data == {
        "from": "en",
        "to": "fr",
        "document_before": english.pk,
        "document": envelope.document_id,
    }
    assert envelope.document_id != english.pk
    assert audit.chain_check(envelope=envelope).ok
    page = sender_client.get(f"/envelopes/{envelope.pk}/").content.decode()
    assert "Language changed" in page


def test_the_same_language_again_changes_nothing_and_records_nothing(
    sender_client: Client, sender: User, invoice: Invoice
) -> None:
    sender_client.post(f"/invoices/{invoice.pk}/send/", {"language": "fr"})
    envelope = Envelope.objects.get()
    events = envelope.events.count()

    services.envelope_set_language(envelope=envelope, actor=sender, language="fr")

    assert envelope.events.count() == events
    assert Document.objects.get(invoice=invoice) == envelope.document


def test_a_refused_change_records_nothing(sender: User, sent_envelope: Envelope) -> None:
    with pytest.raises(services.SigningError) as unknown:
        services.envelope_set_language(envelope=sent_envelope, actor=sender, language="de")
    assert unknown.value.code == "language"
    with pytest.raises(services.SigningConflict) as sent:
        services.envelope_set_language(envelope=sent_envelope, actor=sender, language="fr")
    assert sent.value.code == "already_sent"
    assert _language_events(sent_envelope) == []
    sent_envelope.refresh_from_db()
    assert sent_envelope.language == "en"


def _uploaded_draft(sender: User, _invoice: Invoice) -> Envelope:
    from documents.services import document_create_from_upload

    document = document_create_from_upload(
        uploaded_file=upload(blank_pdf()), title="Contrat", creator=sender, language="en"
    )
    return services.envelope_for_document(document=document, actor=sender)


def _invoice_draft(sender: User, invoice: Invoice) -> Envelope:
    return services.envelope_open_for_invoice(invoice=invoice, actor=sender, language="en")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.parametrize("draft", [_uploaded_draft, _invoice_draft], ids=["upload", "invoice"])
def test_two_changes_at_once_record_the_one_that_happened(
    sender: User, invoice: Invoice, draft
) -> None:
    """An uploaded PDF is relabelled; an invoice's document is rendered again and replaced."""
    envelope = draft(sender, invoice)
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def change() -> None:
        try:
            barrier.wait()
            services.envelope_set_language(envelope=envelope, actor=sender, language="fr")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=change) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    envelope.refresh_from_db()
    assert envelope.language == "fr"
    [event] = _language_events(envelope)
    assert (event.data["from"], event.data["to"], event.actor) == ("en", "fr", sender)
    assert audit.chain_check(envelope=envelope).ok
