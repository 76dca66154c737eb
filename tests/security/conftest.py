"""A small world owned by `sender`: a deal, an invoice, a sent envelope with its links and
messages, a sealed copy, a private template and a field layout. The other personas try to reach
it; nothing here renders HTML to PDF, so the access matrix stays fast."""

import datetime
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from pypdf import PdfWriter

from crm.models import Contact, Counterparty, Deal, Invoice, OwnCompany
from documents import services as document_services
from documents.models import Document, DocumentTemplate, FieldLayout
from signing import services, tokens
from signing.models import Envelope, Message, Party
from tests import factories
from verification.models import SealedDocument

# Strings that only the sender's own data contains: a page that shows one of them to someone
# else leaks it.
DEAL_TITLE = "Dossier-confidentiel-7Q"
DOCUMENT_TITLE = "Contrat-confidentiel-9Z"
TEMPLATE_NAME = "Modele-prive-4K"
LAYOUT_NAME = "Gabarit-prive-2W"
COUNTERPARTY_NAME = "Client-confidentiel-5M"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    # Rate limits and board statistics live in the cache; every test starts from nothing.
    cache.clear()


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595.28, height=841.89)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class World:
    company: OwnCompany
    counterparty: Counterparty
    contact: Contact
    deal: Deal
    invoice: Invoice
    document: Document
    draft_document: Document
    envelope: Envelope
    party: Party
    message: Message
    template: DocumentTemplate
    layout: FieldLayout
    token: str


def _upload(title: str, creator: User) -> Document:
    return document_services.document_create_from_upload(
        uploaded_file=SimpleUploadedFile("contrat.pdf", blank_pdf(), "application/pdf"),
        title=title,
        creator=creator,
        language="en",
    )


@pytest.fixture
def world(company: OwnCompany, sender: User, colleague: User, manager: User, outsider: User):
    return build_world(company, sender)


def build_world(company: OwnCompany, sender: User) -> World:
    """The sender's data (files under the current MEDIA_ROOT)."""
    counterparty = factories.make_counterparty(legal_name=COUNTERPARTY_NAME)
    contact = factories.make_contact(counterparty)
    deal = factories.make_deal(company=company, responsible=sender, counterparty=counterparty)
    deal.title = DEAL_TITLE
    deal.save(update_fields=["title"])
    invoice = factories.make_invoice(deal)
    document = _upload(DOCUMENT_TITLE, sender)
    envelope = services.envelope_create(document=document, responsible=sender, language="en")
    services.envelope_send(
        envelope=envelope,
        actor=sender,
        parties=[
            services.PartyInput(
                role="company",
                name="Claire Dubois",
                email="claire.dubois@atelier-lumiere.fr",
                is_company=True,
            ),
            services.PartyInput(
                role="client", name="Paul Martin", email="paul.martin@boulangerie-martin.fr"
            ),
        ],
        language="en",
        deadline=timezone.now() + datetime.timedelta(days=10),
    )
    envelope.refresh_from_db()
    party = envelope.parties.get(role="company")
    token = tokens.token_for(party_id=party.pk, nonce=party.token_nonce)
    message = envelope.messages.order_by("id").first()
    assert message is not None
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED)
    # A sealed copy, so that the download views have something to refuse (or serve).
    sealed = SealedDocument(
        code="SECTESTCODE1",
        sha256="0" * 64,
        size=4,
        sealed_at=timezone.now(),
        metadata={"title": DOCUMENT_TITLE},
    )
    sealed.file.save("sealed-test.pdf", ContentFile(b"%PDF"), save=False)
    sealed.save()
    Envelope.objects.filter(pk=envelope.pk).update(sealed=sealed)
    draft_document = _upload(DOCUMENT_TITLE + "-draft", sender)
    template = DocumentTemplate.objects.create(
        name=TEMPLATE_NAME,
        kind="other",
        language="en",
        body="<p>" + TEMPLATE_NAME + "</p>",
        css="",
        created_by=sender,
    )
    layout = document_services.layout_save(
        document=draft_document, name=LAYOUT_NAME, creator=sender
    )
    return World(
        company=company,
        counterparty=counterparty,
        contact=contact,
        deal=deal,
        invoice=invoice,
        document=document,
        draft_document=draft_document,
        envelope=envelope,
        party=party,
        message=message,
        template=template,
        layout=layout,
        token=token,
    )


@pytest.fixture
def clients(sender: User, colleague: User, manager: User, outsider: User) -> dict[str, Client]:
    return logged_in_clients(
        {"outsider": outsider, "colleague": colleague, "sender": sender, "manager": manager}
    )


def logged_in_clients(users: dict[str, User]) -> dict[str, Client]:
    """A client per persona, logged in as its user; `anonymous` is not logged in."""
    result = {"anonymous": Client()}
    for name, user in users.items():
        client = Client()
        client.force_login(user)
        result[name] = client
    return result
