"""Run a whole envelope through the services on demo data (demos, benchmarks, smoke tests)."""

import re
from datetime import timedelta
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone

from crm.models import Invoice
from signing import images, services
from signing.models import Envelope, FieldValue, Message, Party

_CODE = re.compile(r"\b(\d{6})\b")
DEMO_IP = "203.0.113.10"
DEMO_UA = "SignFlow demo"


def _stamp() -> bytes:
    path = Path(__file__).resolve().parent / "static" / "signing" / "demo-stamp.png"
    return images.uploaded_image(path.read_bytes(), keep_colour=True)


def _sign(party: Party, *, typed_name: str, stamp: bytes | None) -> None:
    services.party_open(party=party, ip=DEMO_IP, user_agent=DEMO_UA)
    services.otp_send(party=party, ip=DEMO_IP, user_agent=DEMO_UA)
    message = Message.objects.filter(party=party, template=Message.Template.CODE).latest("id")
    match = _CODE.search(message.body)
    assert match is not None
    services.otp_confirm(party=party, code=match.group(1), ip=DEMO_IP, user_agent=DEMO_UA)
    values: dict[int, services.SubmittedValue] = {}
    signature = services.SubmittedValue(
        image=images.typed_signature(typed_name), method=FieldValue.Method.TYPED
    )
    for field in party.envelope.document.fields.filter(role=party.role):
        if field.kind in {"signature", "initials"}:
            values[field.pk] = signature
        elif field.kind == "stamp" and stamp is not None:
            values[field.pk] = services.SubmittedValue(
                image=stamp, method=FieldValue.Method.UPLOADED
            )
        elif field.kind == "mention" and field.phrase:
            values[field.pk] = services.SubmittedValue(text=field.phrase)
        elif not field.is_image and field.kind != "date":
            values[field.pk] = services.SubmittedValue(text=field.prefilled or typed_name)
    party.refresh_from_db()
    services.party_sign(
        party=party,
        values=values,
        consent=True,
        code_confirmed_in_session=True,
        ip=DEMO_IP,
        user_agent=DEMO_UA,
    )


def demo_envelope(*, complete: bool, language: str = "fr", invoice_index: int = 0) -> Envelope:
    """An envelope for the demo's invoice number `invoice_index` (of those with a contact):
    one invoice has one current envelope, so several envelopes need several invoices."""
    call_command("seed_demo", verbosity=0)
    invoice = (
        Invoice.objects.select_related("deal", "deal__contact", "company")
        .filter(deal__contact__isnull=False)
        .order_by("id")[invoice_index : invoice_index + 1]
        .first()
    )
    assert invoice is not None, "seed_demo made no invoice with a contact"
    actor = invoice.deal.responsible
    envelope = services.envelope_create_from_invoice(
        invoice=invoice, actor=actor, language=language
    )
    company = invoice.company
    contact = invoice.deal.contact
    assert contact is not None
    services.envelope_send(
        envelope=envelope,
        actor=actor,
        parties=[
            services.PartyInput(
                role=Party.Role.COMPANY,
                name=company.director_name,
                email=company.director_email,
                phone=company.director_phone,
                channel=Party.Channel.EMAIL,
                is_company=True,
            ),
            services.PartyInput(
                role=Party.Role.CLIENT,
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
                channel=Party.Channel.SMS if contact.phone else Party.Channel.EMAIL,
                is_company=invoice.deal.counterparty.kind == "company",
            ),
        ],
        language=language,
        deadline=timezone.now() + timedelta(days=30),
    )
    if not complete:
        return envelope
    for party in envelope.parties.order_by("order"):
        _sign(
            party,
            typed_name=party.name,
            stamp=_stamp() if party.role == Party.Role.COMPANY else None,
        )
    envelope.refresh_from_db()
    if envelope.status == Envelope.Status.SEALING:
        envelope = services.envelope_seal(envelope_id=envelope.pk)
    return envelope
