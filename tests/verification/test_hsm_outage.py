"""An HSM outage (SoftHSM2): verification never needs the token, sealing says `signer_keys`.

Each case starts like a fresh process (key caches and the token session cleared) with the
token unreachable: a wrong module path, a wrong PIN, or the token gone from the module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography import x509
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.softhsm import SoftToken, needs_softhsm
from tests.threads import run_in_threads
from tests.verification import pdfs
from tests.verification.test_api import post_file
from tests.verification.test_views import upload
from verification import hsm, keys
from verification.models import SealedDocument
from verification.services import SealingError, seal_pdf

pytestmark = [needs_softhsm, pytest.mark.django_db]

OUTAGES = ("module", "pin", "removed")
REASONS = {
    "module": "the module cannot be loaded",
    "pin": "the token refused the PIN",
    "removed": "no token has this label",
}


def _seal(code: str) -> SealedDocument:
    return seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(code=code))


def _bytes(document: SealedDocument) -> bytes:
    with document.file.open("rb") as fh:
        return fh.read()


def _fresh_process() -> None:
    keys.clear_cache()
    hsm.reset()


def _reinitialise(token: SoftToken) -> None:
    """SoftHSM2 reads its tokens (SOFTHSM2_CONF) when the module is initialised."""
    hsm.reset()
    pkcs11.lib(token.module).reinitialize()


@pytest.fixture
def outage(
    softhsm_seal: SoftToken, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], None]]:
    """Makes the token unreachable one way; puts it back afterwards."""
    pin = settings.SIGNFLOW_SEAL_PKCS11_PIN
    module = settings.SIGNFLOW_SEAL_PKCS11_MODULE
    removed: list[bool] = []

    def start(kind: str) -> None:
        if kind == "module":
            settings.SIGNFLOW_SEAL_PKCS11_MODULE = "/nonexistent/libpkcs11.so"
        elif kind == "pin":
            settings.SIGNFLOW_SEAL_PKCS11_PIN = "0000"
        else:  # the same module, but its token is gone
            (tmp_path / "empty").mkdir()
            conf = tmp_path / "softhsm2.conf"
            conf.write_text(f"directories.tokendir = {tmp_path / 'empty'}\nlog.level = ERROR\n")
            monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
            _reinitialise(softhsm_seal)
            removed.append(True)
        _fresh_process()

    yield start
    settings.SIGNFLOW_SEAL_PKCS11_PIN, settings.SIGNFLOW_SEAL_PKCS11_MODULE = pin, module
    if removed:
        monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm_seal.conf))
        _reinitialise(softhsm_seal)
    _fresh_process()


def test_the_token_certificate_is_copied_to_the_keys_folder(
    softhsm_seal: SoftToken, settings: Any
) -> None:
    copy = Path(settings.SIGNFLOW_KEYS_DIR) / keys.SEAL_COPY_FILE
    copy.unlink(missing_ok=True)
    _fresh_process()
    material = keys.get_key_material()
    assert x509.load_pem_x509_certificates(copy.read_bytes()) == [material.seal_cert]
    assert copy.stat().st_mode & 0o777 == 0o600
    mtime = copy.stat().st_mtime_ns
    _fresh_process()
    keys.get_key_material()
    assert copy.stat().st_mtime_ns == mtime  # unchanged: not written again

    # A rotation to a new label writes no copy until the settings name it.
    rotation = keys.rotate_seal_key(label=f"{softhsm_seal.seal_key(settings)}-next")
    assert not rotation.active
    assert x509.load_pem_x509_certificate(copy.read_bytes()) == material.seal_cert
    settings.SIGNFLOW_SEAL_PKCS11_KEY_LABEL = rotation.label
    _fresh_process()
    keys.check_reachable()
    assert x509.load_pem_x509_certificate(copy.read_bytes()) == rotation.certificate
    assert keys.verification_material().seal_cert == rotation.certificate


@pytest.mark.parametrize("kind", OUTAGES)
def test_a_process_started_during_an_outage_verifies(
    kind: str,
    outage: Callable[[str], None],
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _bytes(_seal(f"HSMOUT{kind.upper():0<6}"[:12]))
    outage(kind)
    opened: list[str] = []
    real_session = hsm.session

    def session(config: hsm.TokenConfig) -> Any:
        opened.append(config.key_label)
        return real_session(config)

    monkeypatch.setattr(hsm, "session", session)

    page = upload(client, data)
    assert page.status_code == 200
    assert b'class="verdict authentic"' in page.content
    cache.clear()  # the API's rate limit
    api = post_file(client, data)
    assert api.status_code == 200 and api.json()["verdict"] == "authentic"
    assert client.get(reverse("verification:root_certificate")).status_code == 200
    assert client.get(reverse("verification:crl")).status_code == 200
    assert opened == []  # verification never opened the token


def test_without_a_copy_yet_verification_still_says_authentic(
    outage: Callable[[str], None], client: Client, settings: Any
) -> None:
    data = _bytes(_seal("HSMNOCOPY001"))
    (Path(settings.SIGNFLOW_KEYS_DIR) / keys.SEAL_COPY_FILE).unlink()
    outage("pin")
    assert b'class="verdict authentic"' in upload(client, data).content


@pytest.mark.parametrize("kind", OUTAGES)
def test_readyz_says_the_token_is_away(
    kind: str, outage: Callable[[str], None], client: Client, settings: Any
) -> None:
    settings.REDIS_URL = ""
    outage(kind)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["failed"] == ["keys"]
    check = body["checks"]["keys"]
    assert check["status"] == "fail"
    assert check["reason"].startswith("PKCS#11 token: ") and REASONS[kind] in check["reason"]
    assert "0000" not in response.content.decode() and "/nonexistent" not in check["reason"]


def test_a_raw_token_error_is_classified_as_the_key(softhsm_seal: SoftToken) -> None:
    assert softhsm_seal.label
    try:
        try:
            raise pkcs11.exceptions.DeviceRemoved()
        except pkcs11.PKCS11Error as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert "the token was removed" in (keys.token_failure(wrapped) or "")
    assert keys.token_failure(SealingError("tsa_unreachable", "x")) is None


def test_concurrent_copies_are_never_seen_half_written(
    softhsm_seal: SoftToken, settings: Any
) -> None:
    """Web and worker processes may write the copy at once (e.g. after a label change)."""
    assert softhsm_seal.label
    material = keys.get_key_material()
    certs = [material.seal_cert, material.root_cert]
    copy = Path(settings.SIGNFLOW_KEYS_DIR) / keys.SEAL_COPY_FILE
    turn = iter(range(1000))
    seen: list[x509.Certificate] = []

    def write_and_read() -> None:
        for _ in range(25):
            keys.keep_token_certificate(certs[next(turn) % 2])
            seen.extend(x509.load_pem_x509_certificates(copy.read_bytes()))

    run_in_threads(write_and_read, 6)
    assert len(seen) == 150 and set(seen) <= set(certs)
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(f".{copy.name}.")]
