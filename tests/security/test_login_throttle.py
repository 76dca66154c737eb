"""Login brute force: wrong passwords are counted per client IP and username (django-axes, in the
database); the failure that reaches the limit is answered with the lockout already."""

import pytest
from django.test import Client


def _login(client: Client, username: str, password: str, ip: str = "192.0.2.10"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture(autouse=True)
def small_limit(settings) -> None:
    settings.SIGNFLOW_LOGIN_MAX_FAILURES = 3
    settings.SIGNFLOW_LOGIN_LOCK_SECONDS = 600


def test_it_refuses_even_the_right_password_after_too_many_failures(sender) -> None:
    client = Client()
    for _ in range(2):
        assert _login(client, sender.username, "wrong").status_code == 200
    assert _login(client, sender.username, "wrong").status_code == 429
    response = _login(client, sender.username, "pass-" + sender.username)
    assert response.status_code == 429
    assert "Too many failed attempts. Wait 10 minutes and try again." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_username_is_matched_whatever_its_case(sender) -> None:
    client = Client()
    for _ in range(3):
        _login(client, sender.username.upper(), "wrong")
    assert _login(client, sender.username, "pass-" + sender.username).status_code == 429


def test_the_refusal_is_in_the_readers_language(sender) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    for _ in range(3):
        _login(client, sender.username, "wrong")
    response = _login(client, sender.username, "wrong")
    assert "Trop de tentatives échouées. Attendez 10 minutes et réessayez." in (
        response.content.decode()
    )


def test_another_address_or_account_is_not_locked_out(sender, colleague) -> None:
    client = Client()
    for _ in range(3):
        _login(client, sender.username, "wrong")
    assert (
        _login(client, sender.username, "pass-" + sender.username, ip="192.0.2.99").status_code
        == 302
    )
    other = Client()
    assert _login(other, colleague.username, "pass-" + colleague.username).status_code == 302


def test_a_successful_login_clears_the_failures(sender) -> None:
    client = Client()
    for _ in range(2):
        _login(client, sender.username, "wrong")
    assert _login(client, sender.username, "pass-" + sender.username).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, sender.username, "wrong")
    assert _login(client, sender.username, "pass-" + sender.username).status_code == 302
