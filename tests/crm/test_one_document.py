"""One document per invoice: "Send for signature" reopens the invoice's envelope, starting over
is explicit (discard the draft, or cancel and send a new version), the database refuses a
second current envelope, and the invoice and the deal follow the signature."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.utils import translation

from crm.models import Deal, DealEvent, DealStage, Invoice
from documents.models import Document
from signing import services
from signing.models import Envelope, Event
from tests import factories
from tests.crm.conftest import login
from tests.signing.conftest import send_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def invoice(deal: Deal) -> Invoice:
    return factories.make_invoice(deal)


def _click(client: Client, invoice: Invoice, language: str = "fr") -> str:
    response = client.post(f"/invoices/{invoice.pk}/send/", {"language": language})
    assert response.status_code == 302, response.content[:300]
    return str(response["Location"])


def test_three_clicks_on_send_reopen_one_draft(client: Client, sender: User, invoice: Invoice):
    login(client, sender)
    targets = {_click(client, invoice) for _ in range(3)}

    assert len(targets) == 1
    assert Document.objects.filter(invoice=invoice).count() == 1
    envelope = Envelope.objects.get()
    assert envelope.source_key == f"invoice:{invoice.pk}"
    assert targets == {f"/send/{envelope.document_id}/"}
    # One fact, one line: the document was prepared once.
    assert invoice.deal.timeline.filter(kind="document_created").count() == 1


def test_send_on_an_envelope_in_progress_opens_its_page(
    client: Client, sender: User, invoice: Invoice, django_capture_on_commit_callbacks
):
    login(client, sender)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_click(client, invoice), send_form(language="fr"))
    envelope = Envelope.objects.get()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY

    assert _click(client, invoice) == f"/envelopes/{envelope.pk}/"
    assert Envelope.objects.count() == 1
    page = client.get(f"/crm/invoices/{invoice.pk}/").content.decode()
    assert f'href="/envelopes/{envelope.pk}/"' in page
    assert f'action="/invoices/{invoice.pk}/send/"' not in page


def test_a_deals_template_document_is_reopened_too(client: Client, sender: User, deal: Deal):
    from documents.models import DocumentTemplate
    from documents.services import ensure_builtin_templates

    ensure_builtin_templates()
    template = DocumentTemplate.objects.exclude(kind="invoice").filter(language="fr").first()
    assert template is not None
    login(client, sender)
    targets = {
        client.post(f"/deals/{deal.pk}/send/", {"template": template.pk})["Location"]
        for _ in range(2)
    }
    envelope = Envelope.objects.get()
    assert targets == {f"/send/{envelope.document_id}/"}
    assert envelope.source_key == f"deal:{deal.pk}:template:{template.pk}"
    assert Document.objects.filter(deal=deal).count() == 1


def test_the_database_refuses_a_second_current_envelope(sender: User, invoice: Invoice):
    first = services.envelope_open_for_invoice(invoice=invoice, actor=sender, language="fr")
    other = factories.make_invoice(invoice.deal)
    second = services.envelope_open_for_invoice(invoice=other, actor=sender, language="fr")
    with pytest.raises(IntegrityError), transaction.atomic():
        Envelope.objects.filter(pk=second.pk).update(source_key=first.source_key)
    # A closed envelope no longer counts: the source may have a new current one.
    Envelope.objects.filter(pk=first.pk).update(status=Envelope.Status.CANCELLED)
    Envelope.objects.filter(pk=second.pk).update(source_key=first.source_key)


def test_discarding_the_draft_is_the_way_to_start_over(
    client: Client, sender: User, invoice: Invoice
):
    login(client, sender)
    _click(client, invoice)
    draft = Envelope.objects.get()

    response = client.post(f"/envelopes/{draft.pk}/discard/")

    assert response.status_code == 302
    assert not Envelope.objects.filter(pk=draft.pk).exists()
    assert not Document.objects.filter(invoice=invoice).exists()
    assert invoice.deal.timeline.filter(kind="document_discarded", actor=sender).count() == 1
    _click(client, invoice)
    assert Envelope.objects.get().pk != draft.pk


def test_only_a_draft_can_be_discarded(
    client: Client, sender: User, invoice: Invoice, django_capture_on_commit_callbacks
):
    login(client, sender)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_click(client, invoice), send_form(language="fr"))
    envelope = Envelope.objects.get()

    response = client.post(f"/envelopes/{envelope.pk}/discard/", follow=True)

    assert "Only a draft can be discarded" in response.content.decode()
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY


def test_cancel_and_send_a_new_version_needs_a_reason_and_is_audited(
    client: Client, sender: User, invoice: Invoice, django_capture_on_commit_callbacks
):
    login(client, sender)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_click(client, invoice), send_form(language="fr"))
    old = Envelope.objects.get()

    refused = client.post(f"/envelopes/{old.pk}/new-version/", {"reason": "  "}, follow=True)
    assert "Give a reason for cancelling." in refused.content.decode()
    assert Envelope.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/envelopes/{old.pk}/new-version/", {"reason": "Wrong delivery address"}
        )

    old.refresh_from_db()
    new = Envelope.objects.exclude(pk=old.pk).get()
    assert response["Location"] == f"/send/{new.document_id}/"
    assert old.status == Envelope.Status.CANCELLED
    assert old.closed_reason == "Wrong delivery address"
    assert new.status == Envelope.Status.DRAFT and new.source_key == old.source_key
    created = Event.objects.get(envelope=new, type=Event.Type.CREATED)
    assert created.data["replaces"] == old.public_id
    assert created.data["reason"] == "Wrong delivery address"
    assert Event.objects.filter(envelope=old, type=Event.Type.CANCELLED, actor=sender).exists()
    cancelled = invoice.deal.timeline.get(kind="cancelled")
    assert "Wrong delivery address" in cancelled.sentence


def test_the_send_screen_of_an_upload_creates_nothing_on_get(client: Client, sender: User):
    from documents.services import document_create_from_upload
    from tests.documents.conftest import blank_pdf, upload

    document = document_create_from_upload(
        uploaded_file=upload(blank_pdf()), title="Contrat", creator=sender, language="en"
    )
    login(client, sender)
    assert client.get(f"/send/{document.pk}/").status_code == 200
    assert not Envelope.objects.exists()
    response = client.post(f"/send/{document.pk}/", send_form(language="en"))
    assert response.status_code == 302
    assert Envelope.objects.get().document == document


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_five_simultaneous_clicks_make_one_document_and_one_envelope(
    sender: User, invoice: Invoice
):
    barrier = threading.Barrier(5)
    outcomes: list[str] = []
    lock = threading.Lock()

    def click() -> None:
        try:
            client = Client()
            client.force_login(sender)
            barrier.wait()
            response = client.post(f"/invoices/{invoice.pk}/send/", {"language": "fr"})
            result = f"{response.status_code} {response.get('Location', '')}"
        except Exception as exc:  # reported in the assertion below
            result = repr(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=click) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Envelope.objects.count() == 1, outcomes
    assert Document.objects.filter(invoice=invoice).count() == 1, outcomes
    envelope = Envelope.objects.get()
    assert outcomes == [f"302 /send/{envelope.document_id}/"] * 5
    assert DealEvent.objects.filter(kind="document_created").count() == 1


# --- The invoice and the deal follow the signature ----------------------------------------------


def test_a_signed_invoice_says_signed_and_the_deal_moves_on(
    client: Client, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from signing.demo import demo_envelope

    call_command("seed_demo", verbosity=0)
    DealStage.objects.update(on_signature=False)
    won = DealStage.objects.get(code="won")
    DealStage.objects.filter(pk=won.pk).update(on_signature=True)
    Deal.objects.update(stage=DealStage.objects.get(code="proposal"))
    with django_capture_on_commit_callbacks(execute=True):
        envelope = demo_envelope(complete=True, language="fr")
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error

    invoice = envelope.document.invoice
    invoice.refresh_from_db()
    deal = invoice.deal
    assert invoice.status == Invoice.Status.SIGNED
    assert deal.stage == won
    kinds = list(deal.timeline.values_list("kind", flat=True))
    assert kinds.count("party_signed") == 2
    assert kinds.count("invoice_signed") == 1
    assert kinds.count("stage_on_signature") == 1

    client.force_login(deal.responsible)
    page = client.get(f"/crm/invoices/{invoice.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Signed" in page
    assert f'href="/envelopes/{envelope.pk}/download/"' in page
    assert f'action="/invoices/{invoice.pk}/send/"' not in page
    timeline = client.get(f"/crm/deals/{deal.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for party in envelope.parties.all():
        assert f"{party.name} signed “{envelope.title}”." in timeline
    assert "party_signed" not in timeline and "document_created" not in timeline


def test_a_deal_never_moves_backwards_on_signature(deal: Deal):
    from crm.services import deal_move_on_signature

    DealStage.objects.ensure_defaults()
    DealStage.objects.filter(code="proposal").update(on_signature=True)
    deal.stage = DealStage.objects.get(code="negotiation")
    deal.save(update_fields=["stage"])

    deal_move_on_signature(deal=deal, title="Contrat")

    deal.refresh_from_db()
    assert deal.stage.code == "negotiation"
    assert not deal.timeline.filter(kind="stage_on_signature").exists()


# --- The timeline is worded for its reader --------------------------------------------------------


def test_the_timeline_is_worded_in_the_readers_language(deal: Deal, sender: User):
    from crm.services import deal_timeline_add
    from crm.timeline import stage_param

    stage = DealStage.objects.get(code="won")
    deal_timeline_add(
        deal=deal,
        kind="stage_on_signature",
        params={
            "title": "Facture F-2026-00001",
            "old": stage_param(deal.stage),
            "new": stage_param(stage),
        },
    )
    event = deal.timeline.get(kind="stage_on_signature")
    with translation.override("en"):
        english = (event.kind_label, event.sentence)
    with translation.override("fr"):
        french = (event.kind_label, event.sentence)

    assert english == (
        "Stage changed",
        "“Facture F-2026-00001” is signed: the deal moves from “New” to “Won”.",
    )
    assert "Gagnée" in french[1] and "Won" not in french[1]


def test_an_event_stored_before_parameters_keeps_its_sentence(deal: Deal):
    event = DealEvent.objects.create(deal=deal, kind="party_signed", text="Paul a signé X")
    assert event.sentence == "Paul a signé X"
    assert event.kind_label


# --- The pipeline names the stage reached on signature ---------------------------------------------


def test_a_manager_names_the_signature_stage_on_the_pipeline_page(
    client: Client, manager: User, sender: User
):
    DealStage.objects.ensure_defaults()
    stages = list(DealStage.objects.all())
    data = {
        "form-TOTAL_FORMS": str(len(stages) + 1),
        "form-INITIAL_FORMS": str(len(stages)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        f"form-{len(stages)}-position": "0",  # the empty row, as the browser posts it
    }
    for index, stage in enumerate(stages):
        data.update(
            {
                f"form-{index}-id": str(stage.pk),
                f"form-{index}-position": str(stage.position),
                f"form-{index}-code": stage.code,
                f"form-{index}-name_fr": stage.name_fr,
                f"form-{index}-name_en": stage.name_en,
            }
        )
        if stage.is_closed:
            data[f"form-{index}-is_closed"] = "on"
        if stage.code in {"won", "lost"}:
            data[f"form-{index}-on_signature"] = "on"

    login(client, manager)
    refused = client.post("/crm/stages/", data)
    assert refused.status_code == 200
    assert "Only one stage can be" in refused.content.decode()
    assert not DealStage.objects.filter(on_signature=True).exists()

    lost = next(i for i, s in enumerate(stages) if s.code == "lost")
    del data[f"form-{lost}-on_signature"]
    saved = client.post("/crm/stages/", data)
    assert saved.status_code == 302, saved.context["formset"].errors
    assert list(DealStage.objects.filter(on_signature=True).values_list("code", flat=True)) == [
        "won"
    ]

    login(client, sender)
    assert client.post("/crm/stages/", data).status_code in {403, 404}


def test_the_data_migration_rewords_old_signing_lines_for_each_reader(deal: Deal):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("crm.migrations.0004_timeline_params_signature_stage")
    old = DealEvent.objects.create(
        deal=deal, kind="document_sent", text="Envoyé pour signature : Facture F-2026-00001"
    )
    note = DealEvent.objects.create(deal=deal, kind="note", text="Rappeler lundi")

    migration.parameters_from_old_sentences(apps, None)

    old.refresh_from_db()
    note.refresh_from_db()
    assert old.params == {"title": "Facture F-2026-00001"}
    with translation.override("en"):
        assert old.sentence == "Sent for signature: Facture F-2026-00001."
    assert note.params == {} and note.sentence == "Rappeler lundi"
