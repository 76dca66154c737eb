"""Email provider webhooks (django-anymail) only exist with a shared secret: without one, a
forged bounce is not found; with one, it must carry the secret."""

import base64
import json
import types

import pytest
from django.test import Client
from django.urls import clear_url_caches

from signflow import urls
from signflow.apps import provider_webhooks_check
from signing.models import Message
from tests.security.conftest import World

pytestmark = pytest.mark.django_db

TRACKING = "/webhooks/anymail/postmark/tracking/"


def _bounce(provider_id: str) -> str:
    return json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 42,
            "Type": "HardBounce",
            "TypeCode": 1,
            "MessageID": provider_id,
            "Email": "paul.martin@boulangerie-martin.fr",
            "Description": "The server was unable to deliver your message.",
            "BouncedAt": "2026-11-30T10:00:00Z",
        }
    )


@pytest.fixture
def sent_email(world: World) -> Message:
    Message.objects.filter(pk=world.message.pk).update(
        provider_id="pm-1", status=Message.Status.SENT
    )
    return Message.objects.get(pk=world.message.pk)


@pytest.fixture
def with_secret(settings):
    """The project's URLs as they are built when ANYMAIL_WEBHOOK_SECRET is set."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "provider:s3cret-s3cret"}
    module = types.ModuleType("urls_with_webhook_secret")
    module.urlpatterns = [*urls.urlpatterns, *urls.provider_webhook_urls()]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = module
    yield
    clear_url_caches()


def test_without_a_secret_a_forged_bounce_is_not_found(client: Client, settings, sent_email):
    assert not settings.ANYMAIL["WEBHOOK_SECRET"]
    assert urls.provider_webhook_urls() == []
    response = client.post(TRACKING, _bounce("pm-1"), content_type="application/json")
    assert response.status_code == 404
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.SENT


def test_without_a_secret_the_checks_say_the_webhooks_are_off(settings) -> None:
    settings.DEBUG = False
    assert [m.id for m in provider_webhooks_check()] == ["signflow.W002"]
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "provider:s3cret-s3cret"}
    assert provider_webhooks_check() == []


def test_with_a_secret_a_bounce_without_it_is_refused(client: Client, with_secret, sent_email):
    response = client.post(TRACKING, _bounce("pm-1"), content_type="application/json")
    assert response.status_code in (400, 403)
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.SENT


def test_with_a_secret_the_providers_bounce_is_recorded(client: Client, with_secret, sent_email):
    auth = base64.b64encode(b"provider:s3cret-s3cret").decode()
    response = client.post(
        TRACKING,
        _bounce("pm-1"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )
    assert response.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Message.Status.FAILED
