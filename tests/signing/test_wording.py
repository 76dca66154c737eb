"""Small French wording defects seen on the send screen, the lists, the code step and the
certificate (issue 12): one word per thing, and a sentence that matches what happened."""

import pytest
from django.test import Client
from django.utils import translation

from crm.models import Invoice
from signing.models import Envelope
from tests.signing.conftest import party
from verification.certificate import _labels

pytestmark = pytest.mark.django_db


def test_the_send_screen_says_e_mail_and_never_courriel(
    sender_client: Client, invoice: Invoice
) -> None:
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    sender_client.cookies.load({"django_language": "fr"})
    page = sender_client.get(response["Location"])
    text = page.content.decode()
    assert "E-mail" in text
    assert "Courriel" not in text


@pytest.mark.parametrize("url", ["/crm/deals/", "/crm/invoices/", "/crm/counterparties/"])
def test_the_filter_button_is_a_verb_in_french(sender_client: Client, url: str) -> None:
    sender_client.cookies.load({"django_language": "fr"})
    text = sender_client.get(url).content.decode()
    assert ">Filtrer</button>" in text
    assert ">Filtre</button>" not in text


def test_the_code_step_says_the_code_was_sent_once_it_was(
    client: Client, sent_envelope: Envelope
) -> None:
    from tests.signing.conftest import last_message, link_token

    sent_envelope.language = "fr"
    sent_envelope.save(update_fields=["language"])
    director = party(sent_envelope, "company")
    token = link_token(last_message(template="invitation", recipient=director.recipient))
    before = client.get(f"/s/{token}/").content.decode()
    assert "Nous envoyons un code" in before
    assert "Nous avons envoyé" not in before
    client.post(f"/s/{token}/code/send/")
    after = client.get(f"/s/{token}/").content.decode()
    assert "Nous avons envoyé un code" in after
    assert "Nous envoyons un code" not in after


def test_the_certificate_names_the_sending_company_without_nested_parentheses() -> None:
    with translation.override("fr"):
        label = str(_labels()["role"]["company"])
    assert label == "Entreprise émettrice"
    assert "(" not in label
