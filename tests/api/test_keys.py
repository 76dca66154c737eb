"""The API keys page and what a key is: shown once, stored as a hash, scoped, revocable,
audited (created, revoked, used), and acting as its employee only."""

import hashlib
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.models import ApiKey, ApiKeyEvent
from tests.api.conftest import Api, api_for

pytestmark = pytest.mark.django_db


def _create(client: Client, **data: object) -> str:
    response = client.post("/account/api-keys/", {"name": "Billing", "scopes": ["read"], **data})
    assert response.status_code == 200, response.content.decode()[:2000]
    match = re.search(r'data-testid="new-key">(sf_[A-Za-z0-9_\-]+)<', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def test_it_shows_a_new_key_once_and_stores_only_its_hash(sender_client: Client) -> None:
    token = _create(sender_client, scopes=["read", "send"])
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(ApiKey.objects.values().get())
    assert key.scopes == ["read", "send"]
    page = sender_client.get("/account/api-keys/").content.decode()
    assert token not in page and f"sf_{key.prefix}_" in page
    assert ApiKeyEvent.objects.filter(key=key, kind="created").count() == 1


def test_it_refuses_a_key_without_name_or_scope(sender_client: Client) -> None:
    response = sender_client.post("/account/api-keys/", {"name": "", "scopes": []})
    assert response.status_code == 400
    assert "Choose at least one scope." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_user_menu_links_the_keys_page(sender_client: Client) -> None:
    assert 'href="/account/api-keys/"' in sender_client.get("/account/api-keys/").content.decode()


def test_a_user_without_employee_profile_has_no_keys_page(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    assert client.get("/account/api-keys/").status_code == 404


def test_a_revoked_key_is_refused_and_the_revocation_is_audited(
    sender_client: Client, sender: User
) -> None:
    token = _create(sender_client)
    api = Api(token)
    assert api.get("/deals").status_code == 200
    key = ApiKey.objects.get()
    response = sender_client.post(f"/account/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    response = api.get("/deals")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Bearer"
    assert ApiKeyEvent.objects.filter(key=key, kind="revoked", actor=sender).count() == 1


def test_nobody_revokes_someone_elses_key(sender: User, colleague: User, client: Client) -> None:
    api_for(sender)
    key = ApiKey.objects.get()
    client.force_login(colleague)
    assert client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 404
    assert ApiKey.objects.get().revoked_at is None


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer sf_",
        "Bearer sf_abcd_wrong",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 500,
    ],
)
def test_a_missing_or_wrong_key_gets_401(client: Client, header: str, sender: User) -> None:
    api_for(sender)
    response = client.get("/api/v1/envelopes", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_key_of_an_inactive_user_is_refused(sender: User) -> None:
    api = api_for(sender)
    sender.is_active = False
    sender.save()
    assert api.get("/deals").status_code == 401


def test_scopes_limit_what_a_key_may_do(sender: User) -> None:
    reader = api_for(sender, ["read"])
    assert reader.get("/envelopes").status_code == 200
    response = reader.post("/counterparties", {"legal_name": "Acme"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_missing"
    writer = api_for(sender, ["send"])
    assert writer.get("/envelopes").status_code == 403
    assert writer.post("/counterparties", {"legal_name": "Acme"}).status_code == 201


def test_use_is_recorded_every_write_and_once_a_minute_for_reads(sender: User) -> None:
    api = api_for(sender)
    key = ApiKey.objects.get()
    for _ in range(3):
        assert api.get("/deals").status_code == 200
    assert api.post("/counterparties", {"legal_name": "Acme"}).status_code == 201
    assert api.post("/counterparties", {"legal_name": "Beta"}).status_code == 201
    used = ApiKeyEvent.objects.filter(key=key, kind="used").order_by("id")
    assert [(e.method, e.status_code) for e in used] == [("GET", 200), ("POST", 201), ("POST", 201)]
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_key_needs_no_csrf_token_and_a_session_is_not_a_key(sender: User) -> None:
    api = api_for(sender)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/api/v1/counterparties",
        '{"legal_name": "Acme"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 201, response.content
    # A logged-in browser session alone does not open the API (no key, no CSRF door).
    strict.force_login(sender)
    response = strict.post(
        "/api/v1/counterparties", '{"legal_name": "B"}', content_type="application/json"
    )
    assert response.status_code == 401


def test_the_keys_page_shows_each_keys_recent_activity(sender_client: Client) -> None:
    token = _create(sender_client)
    assert Api(token).get("/deals").status_code == 200
    page = sender_client.get("/account/api-keys/").content.decode()
    assert "Recent activity" in page and "GET /api/v1/deals" in page and "Created" in page
