"""Open redirects, and access rules that the URL matrix cannot see on its own: a private
template used through someone else's deal, an upload by a user who is not an employee, and the
IP address recorded in the audit trail."""

import pytest
from django.test import Client

from documents.models import Document
from signing.models import Event
from tests import factories
from tests.security.conftest import World, blank_pdf

EVIL = ["https://evil.example/phish", "//evil.example/", "/\\evil.example"]


@pytest.mark.parametrize("target", EVIL)
def test_remind_never_redirects_to_another_site(world: World, sender_client, target) -> None:
    response = sender_client.post(f"/envelopes/{world.envelope.pk}/remind/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == f"/envelopes/{world.envelope.pk}/"


def test_remind_goes_back_to_a_page_of_this_site(world: World, sender_client) -> None:
    response = sender_client.post(f"/envelopes/{world.envelope.pk}/remind/", {"next": "/board/"})
    assert response["Location"] == "/board/"


@pytest.mark.parametrize("target", EVIL)
def test_card_actions_never_redirect_to_another_site(world: World, sender_client, target) -> None:
    response = sender_client.post(f"/board/cards/{world.envelope.pk}/remind/", {"next": target})
    assert response["Location"] == "/board/"


@pytest.mark.parametrize("target", EVIL)
def test_login_never_redirects_to_another_site(sender, target) -> None:
    client = Client()
    response = client.post(
        "/login/",
        {"username": sender.username, "password": "pass-" + sender.username, "next": target},
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_a_colleague_cannot_send_with_my_private_template(world: World, colleague, client) -> None:
    deal = factories.make_deal(company=world.company, responsible=colleague)
    client.force_login(colleague)
    before = Document.objects.count()
    response = client.post(f"/deals/{deal.pk}/send/", {"template": world.template.pk}, follow=True)
    assert Document.objects.count() == before
    assert b"Choose a template." in response.content


def test_a_user_without_employee_profile_cannot_upload(world: World, outsider, client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(outsider)
    before = Document.objects.count()
    response = client.post(
        "/documents/upload/",
        {
            "title": "Spam",
            "language": "en",
            "file": SimpleUploadedFile("x.pdf", blank_pdf(), "application/pdf"),
        },
    )
    assert response.status_code == 404
    assert Document.objects.count() == before


def _opened_ip(world: World) -> str | None:
    event = Event.objects.filter(envelope=world.envelope, type=Event.Type.LINK_OPENED).get()
    return event.ip


def test_the_audit_trail_ignores_a_forwarded_address_by_default(world: World, client) -> None:
    client.get(f"/s/{world.token}/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert _opened_ip(world) == "203.0.113.7"


def test_behind_one_proxy_the_audit_trail_takes_the_address_it_saw(world, client, settings):
    settings.SIGNFLOW_TRUSTED_PROXIES = 1
    # The client wrote the first entry; our proxy appended the address it connected from.
    client.get(
        f"/s/{world.token}/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7",
    )
    assert _opened_ip(world) == "203.0.113.7"


def test_a_malformed_forwarded_address_is_not_recorded(world, client, settings) -> None:
    settings.SIGNFLOW_TRUSTED_PROXIES = 1
    client.get(f"/s/{world.token}/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert _opened_ip(world) == "10.0.0.2"


def test_media_files_are_never_served_directly(client, settings):
    # MEDIA_ROOT holds the sealing keys and every document; only access-checked views serve files.
    settings.DEBUG = True
    assert client.get("/media/keys/root.pem").status_code == 404
    assert client.get("/media/documents/x.pdf").status_code == 404
