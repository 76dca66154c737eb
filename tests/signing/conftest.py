"""Signing personas: an envelope sent from an invoice, and the signers holding their links."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from crm.models import Invoice, OwnCompany
from signing.models import Envelope, Message, Party
from tests import factories

LINK_RE = re.compile(r"/s/([A-Za-z0-9_\-]+)/")
CODE_RE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def invoice(company: OwnCompany, sender: User) -> Invoice:
    deal = factories.make_deal(company=company, responsible=sender)
    return factories.make_invoice(
        deal,
        lines=[
            ("Conception graphique", "1", "8333.33", "20"),
            ("Impression des affiches", "250", "1.20", "5.5"),
        ],
    )


def last_message(*, template: str, recipient: str) -> Message:
    message = Message.objects.filter(template=template, recipient=recipient).order_by("-id").first()
    assert message is not None, f"no {template} message to {recipient}"
    return message


def link_token(message: Message) -> str:
    match = LINK_RE.search(message.body)
    assert match, message.body
    return match.group(1)


def code_in(message: Message) -> str:
    match = CODE_RE.search(message.body)
    assert match, message.body
    return match.group(1)


def stamp_png() -> bytes:
    image = Image.new("RGB", (300, 300), "white")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 280, 280), outline=(30, 60, 200), width=12)
    draw.text((90, 140), "ATELIER", fill=(30, 60, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def send_form(**overrides: str) -> dict[str, str]:
    data = {
        "company-name": "Claire Dubois",
        "company-email": "claire.dubois@atelier-lumiere.fr",
        "company-phone": "",
        "company-channel": "email",
        "client-name": "Paul Martin",
        "client-email": "",
        "client-phone": "06 98 76 54 32",
        "client-channel": "sms",
        "language": "en",
        "deadline_days": "30",
        "reminder_every_days": "3",
        "reminder_max": "3",
        "note": "Merci de signer la facture.",
    }
    data.update(overrides)
    return data


def sign_with_code(client: Client, token: str, recipient: str) -> None:
    """Open the link, ask for the code, type it: the party is ready to sign."""
    assert client.get(f"/s/{token}/").status_code == 200
    client.post(f"/s/{token}/code/send/")
    code = code_in(last_message(template="code", recipient=recipient))
    client.post(f"/s/{token}/code/", {"code": code})


@pytest.fixture
def sent_envelope(
    sender_client: Client, invoice: Invoice, django_capture_on_commit_callbacks
) -> Envelope:
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/invoices/{invoice.pk}/send/")
        assert response.status_code == 302, response.content[:500]
        response = sender_client.post(response["Location"], send_form())
        assert response.status_code == 302, response.content.decode()[:3000]
    return Envelope.objects.get(document__invoice=invoice)


def party(envelope: Envelope, role: str) -> Party:
    return envelope.parties.get(role=role)


def director_signs(envelope: Envelope) -> None:
    """The company's director opens the link, confirms the code and signs with a stamp."""
    invitation = Message.objects.filter(
        envelope=envelope, template="invitation", party__role="company"
    ).latest("id")
    token = link_token(invitation)
    director = Client()
    sign_with_code(director, token, invitation.recipient)
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
    assert response.status_code == 302, response.content[:500]


def director_ready(envelope: Envelope) -> tuple[Party, dict]:
    """The director with the code confirmed (through the services), and the values of the
    company's fields: a typed signature and a stamp, ready for party_sign."""
    from signing import images, services

    director = envelope.parties.get(role=Party.Role.COMPANY)
    services.otp_send(party=director, ip="198.51.100.1", user_agent="test")
    code = code_in(last_message(template="code", recipient=director.email))
    services.otp_confirm(party=director, code=code, ip="198.51.100.1", user_agent="test")
    signature = images.typed_signature("Claire Dubois")
    stamp = images.uploaded_image(stamp_png(), keep_colour=True)
    values = {}
    for field in envelope.document.fields.filter(role="company"):
        if field.kind == "signature":
            values[field.pk] = services.SubmittedValue(image=signature, method="typed")
        elif field.kind == "stamp":
            values[field.pk] = services.SubmittedValue(image=stamp, method="uploaded")
    return director, values
