"""The mention field (issue 12): the template gives the phrase ("Bon pour accord"), the signer
types it, it is checked ignoring case and accents and drawn in the handwriting font."""

import subprocess

import pytest
from django.test import Client

from crm.models import Invoice
from documents.flatten import FlattenValue, flatten_pdf
from documents.models import Field
from documents.services import document_create_from_invoice
from signing.models import Envelope
from signing.services.signing import mention_key
from tests.signing.conftest import (
    director_signs,
    last_message,
    link_token,
    party,
    sign_with_code,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "typed",
    [
        "Bon pour accord",
        "bon pour ACCORD",
        "« Bon pour accord »",
        "  Bon  pour accord. ",
        "Bön pour accòrd",
    ],
)
def test_a_mention_matches_whatever_the_case_accents_and_quotes(typed: str) -> None:
    assert mention_key(typed) == mention_key("Bon pour accord")


@pytest.mark.parametrize("typed", ["Bon pour", "Bon pour désaccord", "Lu et approuvé", "x"])
def test_another_phrase_is_not_the_mention(typed: str) -> None:
    assert mention_key(typed) != mention_key("Bon pour accord")


@pytest.mark.parametrize(
    ("language", "phrase"), [("fr", "Bon pour accord"), ("en", "Good for agreement")]
)
def test_the_invoice_asks_the_client_for_the_mention_in_its_language(
    invoice: Invoice, sender, language: str, phrase: str
) -> None:
    document = document_create_from_invoice(invoice=invoice, creator=sender, language=language)
    mention = document.fields.get(kind=Field.Kind.MENTION)
    assert (mention.role, mention.phrase) == ("client", phrase)
    signature = document.fields.get(key="client-signature")
    # Next to the client's signature: just above it, same left edge.
    assert mention.page == signature.page
    assert abs(mention.x - signature.x) < 1
    assert 0 <= mention.y - (signature.y + signature.height) < 40


def _client_link(sent_envelope: Envelope) -> tuple[Client, str, Field]:
    director_signs(sent_envelope)
    signer = party(sent_envelope, "client")
    token = link_token(last_message(template="invitation", recipient=signer.recipient))
    client = Client()
    sign_with_code(client, token, signer.recipient)
    mention = sent_envelope.document.fields.get(kind=Field.Kind.MENTION)
    return client, token, mention


def test_the_signer_types_the_mention_and_a_wrong_one_is_refused_next_to_it(
    sent_envelope: Envelope,
) -> None:
    client, token, mention = _client_link(sent_envelope)
    page = client.get(f"/s/{token}/").content.decode()
    assert f'name="field-{mention.pk}"' in page
    assert "Good for agreement" in page  # the envelope is in English (send_form)
    response = client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Paul Martin",
            f"field-{mention.pk}": "Good for nothing",
            "consent": "1",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert f'id="error-field-{mention.pk}"' in text
    assert 'value="Good for nothing"' in text  # kept to be corrected
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_CLIENT
    response = client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Paul Martin",
            f"field-{mention.pk}": "good FOR agreement",
            "consent": "1",
        },
    )
    assert response.status_code == 302
    mention.refresh_from_db()
    assert mention.value.text == "good FOR agreement"


def test_the_mention_is_drawn_in_the_handwriting_font(invoice: Invoice, sender, tmp_path) -> None:
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    mention = document.fields.get(kind=Field.Kind.MENTION)
    name = document.fields.get(key="company-signature")
    pdf = flatten_pdf(
        document=document,
        values=[
            FlattenValue(field=mention, text="Bon pour accord"),
            FlattenValue(field=name, text="Claire Dubois"),
        ],
    )
    path = tmp_path / "flat.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "Dancing-Script" in fonts
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "Bon pour accord" in text


def test_the_field_editor_places_a_mention_with_its_phrase(
    sender_client: Client, invoice: Invoice
) -> None:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    document = invoice.documents.get()
    editor = sender_client.get(f"/documents/{document.pk}/fields/").content.decode()
    assert '<option value="mention">' in editor
    response = sender_client.post(
        f"/documents/{document.pk}/fields/add/",
        {
            "kind": "mention",
            "role": "client",
            "page": "1",
            "x": "60",
            "y": "120",
            "width": "150",
            "height": "24",
            "label": "Mention",
            "phrase": "Lu et approuvé",
            "required": "on",
        },
    )
    assert response.status_code == 302
    field = document.fields.get(label="Mention")
    assert (field.kind, field.phrase, field.required) == ("mention", "Lu et approuvé", True)
