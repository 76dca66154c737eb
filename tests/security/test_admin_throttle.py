"""Django's admin login is the SignFlow login form: the same throttle (django-axes, per client IP
and username) counts wrong passwords wherever they are typed."""

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def small_limit(settings) -> None:
    settings.SIGNFLOW_LOGIN_MAX_FAILURES = 3
    settings.SIGNFLOW_LOGIN_LOCK_SECONDS = 600


@pytest.fixture
def admin_user(sender):
    sender.is_staff = sender.is_superuser = True
    sender.save(update_fields=["is_staff", "is_superuser"])
    return sender


def _admin_login(client: Client, username: str, password: str, **extra: str):
    extra.setdefault("REMOTE_ADDR", "192.0.2.30")
    return client.post("/admin/login/", {"username": username, "password": password}, **extra)


def test_the_admin_login_locks_out_after_too_many_wrong_passwords(admin_user, settings) -> None:
    settings.DEBUG = True  # the demo manager's case: no second factor needed to log in
    client = Client()
    for _ in range(2):
        assert _admin_login(client, admin_user.username, "wrong").status_code == 200
    assert _admin_login(client, admin_user.username, "wrong").status_code == 429
    response = _admin_login(client, admin_user.username, "pass-" + admin_user.username)
    assert response.status_code == 429
    assert "Too many failed attempts. Wait 10 minutes and try again." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_passwords_on_both_login_forms_count_together(admin_user) -> None:
    client = Client()
    _admin_login(client, admin_user.username, "wrong")
    client.post(
        "/login/", {"username": admin_user.username, "password": "x"}, REMOTE_ADDR="192.0.2.30"
    )
    assert _admin_login(client, admin_user.username, "wrong").status_code == 429
    response = client.post(
        "/login/",
        {"username": admin_user.username, "password": "pass-" + admin_user.username},
        REMOTE_ADDR="192.0.2.30",
    )
    assert response.status_code == 429


def test_a_forged_forwarded_for_does_not_escape_the_lock(admin_user, settings) -> None:
    # One proxy of ours: it appends the address it saw; what the client wrote before is ignored.
    settings.SIGNFLOW_TRUSTED_PROXIES = 1
    client = Client()
    for attempt in range(3):
        _admin_login(
            client,
            admin_user.username,
            "wrong",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}, 198.51.100.7",
            REMOTE_ADDR="10.0.0.2",
        )
    response = _admin_login(
        client,
        admin_user.username,
        "pass-" + admin_user.username,
        HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.7",
        REMOTE_ADDR="10.0.0.2",
    )
    assert response.status_code == 429


def test_the_admin_lockout_page_speaks_french(admin_user) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    for _ in range(3):
        _admin_login(client, admin_user.username, "wrong")
    response = _admin_login(client, admin_user.username, "wrong")
    assert "Trop de tentatives échouées. Attendez 10 minutes et réessayez." in (
        response.content.decode()
    )
