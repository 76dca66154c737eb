"""The signer's link is the only credential: it must not be guessable, must die when the
envelope closes or the link is reissued, and the code confirms one browser, not the link."""

import secrets
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from signing import services
from signing.models import Envelope, Message, Party
from signing.services._common import PAGE_COLUMNS
from tests.security.conftest import DOCUMENT_TITLE, World
from tests.signing.conftest import sign_with_code, stamp_png

SIGNER_GETS = ["", "pages/1.png", "download/"]
SIGNER_POSTS = ["code/send/", "code/", "sign/", "decline/"]


def _signature(**extra: object) -> dict[str, object]:
    return {
        "signature-method": "typed",
        "signature-typed": "Claire Dubois",
        "consent": "1",
        **extra,
    }


@pytest.mark.parametrize("path", SIGNER_GETS + SIGNER_POSTS)
def test_a_guessed_token_finds_nothing(world: World, client: Client, path: str) -> None:
    token = secrets.token_urlsafe(32)
    send = client.get if path in SIGNER_GETS else client.post
    assert send(f"/s/{token}/{path}").status_code == 404


def test_a_token_that_is_almost_right_finds_nothing(world: World, client: Client) -> None:
    assert client.get(f"/s/{world.token[:-1]}/").status_code == 404
    assert client.get(f"/s/{world.token}x/").status_code == 404


@pytest.mark.parametrize("path", SIGNER_GETS + SIGNER_POSTS)
def test_a_reissued_link_is_dead_everywhere(world: World, client: Client, sender, path) -> None:
    services.party_reissue(
        party=world.party,
        actor=sender,
        email="claire@atelier-lumiere.fr",
        phone="",
        channel="email",
    )
    send = client.get if path in SIGNER_GETS else client.post
    assert send(f"/s/{world.token}/{path}").status_code == 404


def test_a_cancelled_link_shows_no_page_of_the_document(world: World, client: Client, sender):
    services.envelope_cancel(envelope=world.envelope, actor=sender, reason="Wrong amount")
    page = client.get(f"/s/{world.token}/")
    assert page.status_code == 410
    assert b"pages/1.png" not in page.content
    assert client.get(f"/s/{world.token}/pages/1.png").status_code == 404


def test_an_open_link_shows_the_pages(world: World, client: Client) -> None:
    assert b"pages/1.png" in client.get(f"/s/{world.token}/").content
    assert client.get(f"/s/{world.token}/pages/1.png").status_code == 200


def test_the_code_confirms_one_browser_not_the_link(world: World) -> None:
    confirmed, other = Client(), Client()
    sign_with_code(confirmed, world.token, world.party.email)
    response = other.post(f"/s/{world.token}/sign/", _signature())
    assert response.status_code == 302
    world.party.refresh_from_db()
    assert world.party.status == Party.Status.ACTIVE
    assert confirmed.post(f"/s/{world.token}/sign/", _signature()).status_code == 302
    world.party.refresh_from_db()
    assert world.party.status == Party.Status.SIGNED


def test_no_image_is_decoded_before_the_code_is_confirmed(world: World, client: Client) -> None:
    upload = SimpleUploadedFile("stamp.png", stamp_png(), "image/png")
    with mock.patch("signing.images.uploaded_image") as decode:
        response = client.post(
            f"/s/{world.token}/sign/",
            _signature(**{"stamp-method": "uploaded", "stamp-file": upload}),
            follow=True,
        )
    decode.assert_not_called()
    assert b"Confirm the code we sent you before signing." in response.content


@pytest.mark.parametrize("path", SIGNER_POSTS)
def test_signer_forms_refuse_a_post_without_csrf_token(world: World, path: str) -> None:
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(f"/s/{world.token}/").status_code == 200
    assert browser.post(f"/s/{world.token}/{path}", {"reason": "x"}).status_code == 403


def test_signer_forms_accept_a_post_with_its_csrf_token(world: World) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get(f"/s/{world.token}/")
    token = browser.cookies["csrftoken"].value
    response = browser.post(f"/s/{world.token}/code/send/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_the_signing_page_is_not_cached_framed_or_referred(world: World, client: Client) -> None:
    response = client.get(f"/s/{world.token}/")
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_signed_pdf_is_not_kept_in_caches(world: World, client: Client) -> None:
    Party.objects.filter(pk=world.party.pk).update(status=Party.Status.SIGNED)
    Envelope.objects.filter(pk=world.envelope.pk).update(
        status=Envelope.Status.COMPLETED, completed_at=timezone.now()
    )
    response = client.get(f"/s/{world.token}/download/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_envelope_download_is_not_kept_in_caches(world: World, sender_client: Client) -> None:
    response = sender_client.get(f"/envelopes/{world.envelope.pk}/download/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_a_signer_page_shows_only_its_own_envelope(world: World, client: Client) -> None:
    assert DOCUMENT_TITLE.encode() in client.get(f"/s/{world.token}/").content


def test_a_link_gets_a_limited_number_of_codes_a_day(world: World, settings) -> None:
    # Five attempts per code and a one-minute cooldown would otherwise allow about 7,000
    # guesses a day at a 6-digit code.
    settings.SIGNFLOW_OTP_RESEND_COOLDOWN_SECONDS = 0
    settings.SIGNFLOW_OTP_MAX_CODES_PER_DAY = 3
    for _ in range(3):
        services.otp_send(party=world.party, ip=None, user_agent="")
    with pytest.raises(services.SigningError) as refused:
        services.otp_send(party=world.party, ip=None, user_agent="")
    assert refused.value.code == "code_limit"
    assert Message.objects.filter(party=world.party, template="code").count() == 3


def _page_values(party: Party) -> dict[str, object]:
    """What the page load must give: the party's columns and the PAGE_COLUMNS."""
    values: dict[str, object] = {
        f.attname: getattr(party, f.attname) for f in Party._meta.concrete_fields
    }
    for path in PAGE_COLUMNS:
        target: object = party
        for name in path.split("__"):
            target = getattr(target, name)
        values[path] = target
    return values


def test_the_page_load_builds_what_the_orm_builds(world: World, django_assert_num_queries) -> None:
    full = services.party_for_token(world.token)
    with django_assert_num_queries(1):
        page = services.party_for_token(world.token, page=True)
        assert page is not None and full is not None
        assert _page_values(page) == _page_values(full)
        assert page.envelope.document.envelope is page.envelope
    assert page.envelope.company is not None and not page._state.adding


def test_the_page_load_without_a_company_or_with_a_bad_token(world: World) -> None:
    Envelope.objects.filter(pk=world.envelope.pk).update(company=None)
    page = services.party_for_token(world.token, page=True)
    assert page is not None and page.envelope.company is None
    for token in ("", "x" * 101, world.token[:-1], "' OR 1=1 --"):
        assert services.party_for_token(token, page=True) is None
    Party.objects.filter(pk=world.party.pk).update(token_hash="")
    assert services.party_for_token(world.token, page=True) is None
