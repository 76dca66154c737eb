"""The manager's pages: add an endpoint (bad input refused on the page, nothing written), see
its secret, rotate it, disable, delete, send a test event, read the log and redeliver."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.webhooks.conftest import Receiver
from webhooks.models import Endpoint, WebhookDelivery

pytestmark = pytest.mark.django_db

BASE = "/settings/webhooks/"


@pytest.fixture
def manager_client(manager: User) -> Client:
    client = Client()
    client.force_login(manager)
    return client


def _form(**overrides) -> dict:
    data = {
        "url": "https://hooks.example.com/signflow",
        "description": "CRM",
        "events": ["envelope.sent", "envelope.completed"],
    }
    data.update(overrides)
    return data


def test_a_manager_adds_an_endpoint_and_sees_its_secret(manager_client: Client):
    response = manager_client.post(f"{BASE}new/", _form())
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{BASE}{endpoint.pk}/"
    assert endpoint.events == ["envelope.sent", "envelope.completed"]
    page = manager_client.get(response["Location"]).content.decode()
    assert endpoint.secret in page and endpoint.secret.startswith("whsec_")
    assert "https://hooks.example.com/signflow" in manager_client.get(BASE).content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (_form(url="not a url"), "url", "Enter a valid URL."),
        (_form(url="ftp://hooks.example.com/x"), "url", "http:// or https://"),
        (_form(url="https://user:pw@hooks.example.com/x"), "url", "no user name or password"),
        (_form(url="https://user@hooks.example.com/x"), "url", "no user name or password"),
        (_form(url="http://169.254.169.254/latest/"), "url", "This address is internal"),
        (_form(url="http://10.0.0.8/x"), "url", "This address is internal"),
        (_form(url="https://" + "a" * 2100 + ".com/"), "url", "at most 2000"),
        (_form(events=[]), "events", "Choose at least one event."),
        (_form(events=["envelope.eaten"]), "events", "not one of the available choices"),
        ({}, "url", "This field is required."),
    ],
)
def test_bad_input_is_refused_on_the_page_and_nothing_is_written(
    manager_client: Client, data: dict, field: str, message: str, settings
):
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = []
    response = manager_client.post(f"{BASE}new/", data)
    assert response.status_code == 200
    errors = " ".join(str(e) for e in response.context["form"].errors.get(field, []))
    assert message in errors, response.context["form"].errors
    assert not Endpoint.objects.exists()


def test_an_at_sign_after_the_host_is_fine(manager_client: Client):
    response = manager_client.post(f"{BASE}new/", _form(url="https://hooks.example.com/in?to=a@b"))
    assert response.status_code == 302
    assert Endpoint.objects.get().url == "https://hooks.example.com/in?to=a@b"


def test_editing_keeps_the_secret_and_checks_the_input(manager_client: Client, manager: User):
    manager_client.post(f"{BASE}new/", _form())
    endpoint = Endpoint.objects.get()
    response = manager_client.post(f"{BASE}{endpoint.pk}/edit/", _form(events=[]))
    assert response.status_code == 200
    response = manager_client.post(
        f"{BASE}{endpoint.pk}/edit/",
        _form(url="https://other.example.com/in", events=["party.signed"]),
    )
    assert response.status_code == 302
    fresh = Endpoint.objects.get()
    assert (fresh.url, fresh.events, fresh.secret) == (
        "https://other.example.com/in",
        ["party.signed"],
        endpoint.secret,
    )


def test_rotate_disable_and_delete(manager_client: Client):
    manager_client.post(f"{BASE}new/", _form())
    endpoint = Endpoint.objects.get()
    assert manager_client.post(f"{BASE}{endpoint.pk}/rotate/").status_code == 302
    rotated = Endpoint.objects.get()
    assert rotated.secret != endpoint.secret and rotated.previous_secret == endpoint.secret
    page = manager_client.get(f"{BASE}{endpoint.pk}/").content.decode()
    assert rotated.secret in page and "The previous secret also signs until" in page
    manager_client.post(f"{BASE}{endpoint.pk}/active/", {"active": "0"})
    assert not Endpoint.objects.get().is_active
    manager_client.post(f"{BASE}{endpoint.pk}/active/", {"active": "1"})
    assert Endpoint.objects.get().is_active
    assert manager_client.post(f"{BASE}{endpoint.pk}/delete/").status_code == 302
    assert not Endpoint.objects.live().exists()
    assert Endpoint.objects.get().secret == ""  # the row stays, its secrets do not
    assert manager_client.get(f"{BASE}{endpoint.pk}/").status_code == 404
    assert manager_client.post(f"{BASE}{endpoint.pk}/test/").status_code == 404
    assert endpoint.url not in manager_client.get(BASE).content.decode()


def test_actions_are_post_only(manager_client: Client):
    manager_client.post(f"{BASE}new/", _form())
    endpoint = Endpoint.objects.get()
    for action in ("rotate", "active", "delete", "test"):
        assert manager_client.get(f"{BASE}{endpoint.pk}/{action}/").status_code == 405
    assert Endpoint.objects.get().secret == endpoint.secret


def test_test_event_log_and_redeliver_through_the_pages(
    manager_client: Client,
    receiver: Receiver,
    endpoint: Endpoint,
    django_capture_on_commit_callbacks,
):
    receiver.statuses = [500]
    receiver.reply = b"upstream exploded"
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(f"{BASE}{endpoint.pk}/test/")
    assert response.status_code == 302
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    log = manager_client.get(f"{BASE}{endpoint.pk}/").content.decode()
    assert "webhook.test" in log and "500" in log and "upstream exploded" in log
    assert manager_client.get(f"{BASE}{endpoint.pk}/?status=pending").context["deliveries"]
    assert not manager_client.get(f"{BASE}{endpoint.pk}/?status=delivered").context["deliveries"]
    # Bad filters are ignored, not errors.
    assert manager_client.get(f"{BASE}{endpoint.pk}/?status=x&before=-1").status_code == 200
    assert (
        manager_client.get(f"{BASE}{endpoint.pk}/?before=99999999999999999999").status_code == 200
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(f"{BASE}{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 2
    detail = manager_client.get(f"{BASE}{endpoint.pk}/deliveries/{delivery.pk}/").content.decode()
    assert "upstream exploded" in detail and delivery.message_id in detail
    assert detail.count("<tr>") >= 3  # header + both attempts


def test_a_delivery_of_another_endpoint_is_not_found(manager_client: Client, endpoint: Endpoint):
    other = Endpoint.objects.create(url="https://other.example.com/", events=["party.signed"])
    delivery = WebhookDelivery.objects.create(
        endpoint=other, message_id="msg_x", event_type="webhook.test", payload="{}"
    )
    assert manager_client.get(f"{BASE}{endpoint.pk}/deliveries/{delivery.pk}/").status_code == 404
    url = f"{BASE}{endpoint.pk}/deliveries/{delivery.pk}/redeliver/"
    assert manager_client.post(url).status_code == 404


def test_only_managers_see_the_menu_link_and_the_pages(
    manager_client: Client, sender_client: Client, client: Client, outsider: User
):
    assert f'href="{BASE}"' in manager_client.get("/crm/deals/").content.decode()
    assert f'href="{BASE}"' not in sender_client.get("/crm/deals/").content.decode()
    assert sender_client.get(BASE).status_code == 403
    assert sender_client.post(f"{BASE}new/", _form()).status_code == 403
    outsider_client = Client()
    outsider_client.force_login(outsider)
    assert outsider_client.get(BASE).status_code == 403
    assert not Endpoint.objects.exists()


def test_the_pages_speak_french(manager_client: Client, endpoint: Endpoint):
    manager_client.cookies["django_language"] = "fr"
    page = manager_client.get(BASE, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Ajouter une adresse" in page
    detail = manager_client.get(f"{BASE}{endpoint.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Afficher le secret de signature" in detail and "Envoyer un événement de test" in detail
    response = manager_client.post(f"{BASE}new/", _form(events=[]), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Choisissez au moins un événement." in response.content.decode()
