"""Two-step login (django-otp, TOTP): optional for employees, required for staff in the admin.

Codes are computed here from the device's secret, as an authenticator app would."""

import datetime

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from signflow.accounts import ENROL_SESSION_KEY


def _code(key_hex: str, drift: int = 0) -> str:
    return f"{totp(bytes.fromhex(key_hex), drift=drift):06d}"


def _device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="SignFlow", confirmed=True)


def _password(client: Client, user: User, next_url: str = "") -> object:
    data = {"username": user.username, "password": "pass-" + user.username}
    if next_url:
        data["next"] = next_url
    return client.post("/login/", data, REMOTE_ADDR="192.0.2.20")


@pytest.fixture(autouse=True)
def small_limit(settings) -> None:
    settings.SIGNFLOW_LOGIN_MAX_FAILURES = 3
    settings.SIGNFLOW_LOGIN_LOCK_SECONDS = 600


def test_an_employee_turns_it_on_by_confirming_a_code(sender_client: Client, sender) -> None:
    page = sender_client.get("/account/two-step/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'src="data:image/svg+xml' in body
    key = sender_client.session[ENROL_SESSION_KEY]
    assert not TOTPDevice.objects.filter(user=sender).exists()
    response = sender_client.post("/account/two-step/", {"code": _code(key)})
    assert response.status_code == 302
    device = TOTPDevice.objects.get(user=sender)
    assert device.confirmed and device.key == key
    entry = LogEntry.objects.get(object_id=str(sender.pk))
    assert entry.user_id == sender.pk and "turned on" in entry.get_change_message()
    assert "Two-step login is on" in sender_client.get("/account/two-step/").content.decode()


def test_a_wrong_confirmation_code_turns_nothing_on(sender_client: Client, sender) -> None:
    sender_client.get("/account/two-step/")
    key = sender_client.session[ENROL_SESSION_KEY]
    wrong = f"{(int(_code(key)) + 1) % 1_000_000:06d}"
    response = sender_client.post("/account/two-step/", {"code": wrong})
    assert response.status_code == 200
    assert "This code is not right." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=sender).exists()


def test_once_on_the_password_alone_does_not_log_in(sender) -> None:
    device = _device(sender)
    client = Client()
    response = _password(client, sender, next_url="/crm/deals/")
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session
    assert client.get("/crm/deals/").status_code == 302  # still anonymous
    response = client.post("/login/code/", {"code": _code(device.key)}, REMOTE_ADDR="192.0.2.20")
    assert response.status_code == 302 and response["Location"] == "/crm/deals/"
    assert client.session["_auth_user_id"] == str(sender.pk)
    assert client.get("/crm/deals/").status_code == 200


def test_a_wrong_code_is_refused(sender) -> None:
    device = _device(sender)
    client = Client()
    _password(client, sender)
    wrong = f"{(int(_code(device.key)) + 1) % 1_000_000:06d}"
    response = client.post("/login/code/", {"code": wrong}, REMOTE_ADDR="192.0.2.20")
    assert response.status_code == 200
    assert "This code is not right." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_code_cannot_be_used_twice(sender) -> None:
    device = _device(sender)
    code = _code(device.key)
    first = Client()
    _password(first, sender)
    assert first.post("/login/code/", {"code": code}).status_code == 302
    second = Client()
    _password(second, sender)
    assert second.post("/login/code/", {"code": code}).status_code == 200
    assert "_auth_user_id" not in second.session


def test_wrong_codes_count_in_the_login_throttle(sender) -> None:
    device = _device(sender)
    client = Client()
    # Two wrong passwords, then the right one and a wrong code: the third failure locks out.
    for _ in range(2):
        client.post(
            "/login/", {"username": sender.username, "password": "x"}, REMOTE_ADDR="192.0.2.20"
        )
    _password(client, sender)
    wrong = f"{(int(_code(device.key)) + 1) % 1_000_000:06d}"
    response = client.post("/login/code/", {"code": wrong}, REMOTE_ADDR="192.0.2.20")
    assert response.status_code == 429
    assert "Too many failed attempts." in response.content.decode()
    # The right password is now refused too, for this address and account.
    assert _password(client, sender).status_code == 429


def test_a_code_typed_too_long_after_the_password_is_not_accepted(sender) -> None:
    device = _device(sender)
    client = Client()
    _password(client, sender)
    with time_machine.travel(datetime.timedelta(minutes=6)):
        response = client.post("/login/code/", {"code": _code(device.key)}, follow=True)
    assert response.redirect_chain[-1][0] == "/login/"
    assert "The login took too long. Enter your password again." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_code_step_needs_the_password_first(client: Client) -> None:
    response = client.post("/login/code/", {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_it_is_turned_off_with_a_current_code(sender_client: Client, sender) -> None:
    device = _device(sender)
    wrong = f"{(int(_code(device.key)) + 1) % 1_000_000:06d}"
    assert sender_client.post("/account/two-step/", {"code": wrong}).status_code == 200
    assert TOTPDevice.objects.filter(user=sender).exists()
    device.throttle_reset()
    response = sender_client.post("/account/two-step/", {"code": _code(device.key)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=sender).exists()
    assert LogEntry.objects.filter(
        object_id=str(sender.pk), change_message="Two-step login turned off"
    ).exists()


def test_the_pages_speak_french(sender) -> None:
    _device(sender)
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    _password(client, sender)
    assert "Saisissez votre code de connexion" in client.get("/login/code/").content.decode()
    client.force_login(sender)
    assert "Connexion en deux étapes" in client.get("/account/two-step/").content.decode()


# --- Staff and Django's admin ---------------------------------------------------------------


@pytest.fixture
def staff(sender) -> User:
    sender.is_staff = sender.is_superuser = True
    sender.save(update_fields=["is_staff", "is_superuser"])
    return sender


def test_staff_without_a_device_are_sent_to_turn_it_on(staff) -> None:
    client = Client()
    client.force_login(staff)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/account/two-step/"
    assert "Turn on two-step login before opening the administration site." in (
        response.content.decode()
    )


def test_under_debug_the_demo_manager_opens_the_admin_without_a_device(staff, settings) -> None:
    settings.DEBUG = True
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_staff_with_a_device_open_the_admin_after_the_code(staff) -> None:
    device = _device(staff)
    client = Client()
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.post(
        "/admin/login/",
        {"username": staff.username, "password": "pass-" + staff.username, "next": "/admin/"},
    )
    assert response["Location"] == "/login/code/"
    response = client.post("/login/code/", {"code": _code(device.key)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_staff_session_that_skipped_the_code_does_not_open_the_admin(staff) -> None:
    _device(staff)
    client = Client()
    client.force_login(staff)  # as if logged in before the device was added
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert "_auth_user_id" not in client.session


def test_the_admin_login_refuses_a_non_staff_account(sender) -> None:
    response = Client().post(
        "/admin/login/", {"username": sender.username, "password": "pass-" + sender.username}
    )
    assert response.status_code == 200
    assert "staff account" in response.content.decode()


def test_the_admin_never_shows_a_devices_secret(staff) -> None:
    device = _device(staff)
    client = Client()
    client.post("/login/", {"username": staff.username, "password": "pass-" + staff.username})
    client.post("/login/code/", {"code": _code(device.key)})
    response = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert response.status_code == 200
    assert device.key not in response.content.decode()
