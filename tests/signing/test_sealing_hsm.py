"""An envelope sealed with the key in SoftHSM2 whose token refuses the PIN: the envelope says
`signer_keys` with the reason, the sender's page says to contact the administrator, and once
the PIN is right again the retried seal completes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from django.contrib.auth.models import User
from django.test import Client

from signing import services
from signing.models import Envelope, Event
from tests.softhsm import SoftToken, needs_softhsm
from verification import hsm, keys

pytestmark = [pytest.mark.django_db, needs_softhsm]


def test_a_refused_pin_is_recorded_on_the_envelope_and_a_retry_seals(
    softhsm_seal: SoftToken,
    settings: Any,
    sender: User,
    sender_client: Client,
    request: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    envelope: Envelope = request.getfixturevalue("sent_envelope")
    envelope.parties.update(status="signed")
    Envelope.objects.filter(pk=envelope.pk).update(status=Envelope.Status.SEALING)
    settings.SIGNFLOW_SEAL_PKCS11_PIN = "9999"
    keys.clear_cache()

    services.envelope_seal(envelope_id=envelope.pk)

    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.SEALING_FAILED
    assert (envelope.sealing_error_kind, envelope.sealing_error_code) == ("signer", "signer_keys")
    assert "the token refused the PIN (SIGNFLOW_SEAL_PKCS11_PIN)" in envelope.sealing_error
    assert "9999" not in envelope.sealing_error and softhsm_seal.pin not in envelope.sealing_error
    page = sender_client.get(f"/envelopes/{envelope.pk}/").content.decode()
    assert "Contact your administrator" in page and "Traceback" not in page

    settings.SIGNFLOW_SEAL_PKCS11_PIN = softhsm_seal.pin
    keys.clear_cache()
    with django_capture_on_commit_callbacks(execute=True):
        services.envelope_retry_sealing(envelope=envelope, actor=sender)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    assert envelope.sealed is not None
    assert envelope.sealed.metadata["seal_certificate_sha256"] == keys.fingerprint(
        keys.get_key_material().seal_cert
    )


def _reinitialise(token: SoftToken) -> None:
    """SoftHSM2 reads its tokens (SOFTHSM2_CONF) when the module is initialised."""
    hsm.reset()
    pkcs11.lib(token.module).reinitialize()


def _remove_token(token: SoftToken, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module stays, its token goes (an HSM unplugged, a cloud HSM's partition away)."""
    (tmp_path / "empty").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'empty'}\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    _reinitialise(token)


# The token comes back even when the test fails half-way.
@pytest.fixture(autouse=True)
def _token_back(softhsm: SoftToken) -> Iterator[None]:
    yield
    os.environ["SOFTHSM2_CONF"] = str(softhsm.conf)
    _reinitialise(softhsm)
    keys.clear_cache()


def test_a_token_lost_after_loading_is_signer_keys_and_a_retry_seals(
    softhsm_seal: SoftToken,
    sender: User,
    request: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    envelope: Envelope = request.getfixturevalue("sent_envelope")
    envelope.parties.update(status="signed")
    Envelope.objects.filter(pk=envelope.pk).update(status=Envelope.Status.SEALING)
    loaded = keys.get_key_material()  # loaded before the outage, as in a running worker
    _remove_token(softhsm_seal, tmp_path, monkeypatch)
    monkeypatch.setattr(keys, "get_key_material", lambda: loaded)

    services.envelope_seal(envelope_id=envelope.pk)

    envelope.refresh_from_db()
    assert (envelope.sealing_error_kind, envelope.sealing_error_code) == ("signer", "signer_keys")
    assert "no token has this label" in envelope.sealing_error
    event = envelope.events.filter(type=Event.Type.SEALING_FAILED).latest("pk")
    assert event.data["code"] == "signer_keys"
    assert "Traceback" not in caplog.text

    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm_seal.conf))  # the token is back
    _reinitialise(softhsm_seal)
    keys.clear_cache()
    with django_capture_on_commit_callbacks(execute=True):
        services.envelope_retry_sealing(envelope=envelope, actor=sender)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
