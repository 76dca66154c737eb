"""The seal key in a PKCS#11 token (SoftHSM2): sealing, verification, failures, /readyz."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tests import nss
from tests.softhsm import SoftToken, needs_softhsm
from tests.threads import run_in_threads
from tests.verification import pdfs
from tests.verification.test_views import upload
from verification import hsm, keys, pades
from verification.models import SealedDocument, SealingKey
from verification.services import SealingError, seal_pdf, verify_pdf

pytestmark = [needs_softhsm, pytest.mark.django_db]


def _seal(code: str) -> SealedDocument:
    return seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(code=code))


def _sign(signer: Any, data: bytes) -> bytes:
    return bytes(asyncio.run(signer.async_sign_raw(data, "sha256")))


def _bytes(document: SealedDocument) -> bytes:
    with document.file.open("rb") as fh:
        return fh.read()


@nss.needs_nss
@pytest.mark.usefixtures("softhsm_seal")
def test_a_document_sealed_with_the_token_key_is_authentic_everywhere(
    client: Client, tmp_path: Path
) -> None:
    material = keys.get_key_material()
    assert material.source == "pkcs11"
    assert material.seal_key is None  # the private key never leaves the token
    document = _seal("HSMSEAL00001")
    data = _bytes(document)

    assert verify_pdf(data=data).verdict == "authentic"
    page = upload(client, data)
    assert b'class="verdict authentic"' in page.content
    assert document.metadata["seal_certificate_sha256"] == keys.fingerprint(material.seal_cert)
    row = SealingKey.objects.get(fingerprint_sha256=keys.fingerprint(material.seal_cert))
    assert (row.source, row.active) == ("pkcs11", True)

    path = tmp_path / "sealed.pdf"
    path.write_bytes(data)
    out = nss.pdfsig(path, nss.trusting(material.root_pem(), tmp_path / "nss"))
    pdfs.assert_pdfsig_lta(out)
    seal_block = pdfs.pdfsig_signatures(out)[0]
    assert "Certificate is Trusted" in seal_block, out
    assert "SignFlow document seal" in seal_block, out


@pytest.mark.usefixtures("softhsm_seal")
def test_the_token_certificate_is_issued_by_our_root_for_the_token_key() -> None:
    material = keys.get_key_material()
    assert material.seal_cert.issuer == material.root_cert.subject
    config = hsm.configured()
    assert config is not None
    with hsm.session(config) as handle:
        from pkcs11 import Attribute, ObjectClass

        key = handle.get_key(object_class=ObjectClass.PRIVATE_KEY, label=config.key_label)
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]


@pytest.mark.usefixtures("softhsm_seal")
def test_concurrent_seals_share_the_token_one_operation_at_a_time() -> None:
    material = keys.get_key_material()

    def seal_one() -> bytes:
        return pades.sign(
            pdf_bytes=pdfs.invoice_pdf(),
            material=material,
            reason="test",
            location="test",
            stamp_text="SignFlow",
            seal_box=None,
        ).pdf

    for data in run_in_threads(seal_one, 4):
        reports, _reader = pades.inspect_signatures(stream=io.BytesIO(data), material=material)
        assert reports[0].intact and reports[0].valid and reports[0].trusted


@pytest.mark.usefixtures("softhsm_seal")
def test_a_forked_worker_opens_its_own_session() -> None:
    """Celery's prefork pool forks after the parent may have used the token."""
    material = keys.get_key_material()
    keys.seal_signer(material)  # the parent holds a logged-in session
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: sign, report, leave without running the parent's cleanup
        status = b"fail"
        try:
            signer = keys.seal_signer(material)
            signature = _sign(signer, b"data")
            status = b"ok %d" % len(signature)
        except BaseException as exc:
            status = repr(exc).encode()[:500]
        finally:
            os.write(write_end, status)
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    answer = os.read(read_end, 1000)
    os.close(read_end)
    assert answer.startswith(b"ok 384"), answer  # RSA 3072
    # The parent's session still works after the child went.
    assert len(_sign(keys.seal_signer(material), b"data")) == 384


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("SIGNFLOW_SEAL_PKCS11_PIN", "0000", "the token refused the PIN"),
        ("SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL", "no-such-token", "no token has this label"),
        ("SIGNFLOW_SEAL_PKCS11_KEY_LABEL", "no-such-key", "no private key with this label"),
        ("SIGNFLOW_SEAL_PKCS11_MODULE", "/nonexistent/libpkcs11.so", "Cannot load the PKCS#11"),
    ],
)
def test_an_unusable_token_is_a_clear_sealing_error_and_a_readyz_failure(
    softhsm_seal: SoftToken,
    settings: Any,
    client: Client,
    setting: str,
    value: str,
    reason: str,
) -> None:
    setattr(settings, setting, value)
    keys.clear_cache()
    settings.REDIS_URL = ""
    with pytest.raises(SealingError) as caught:
        _seal("HSMBROKEN001")
    assert caught.value.code == "signer_keys"
    assert reason in caught.value.detail
    assert "0000" not in caught.value.detail and softhsm_seal.pin not in caught.value.detail
    assert "Traceback" not in caught.value.detail

    response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["failed"] == ["keys"]
    assert body["checks"]["keys"]["status"] == "fail"
    assert isinstance(body["checks"]["keys"]["ms"], float)
    assert value not in response.content.decode()


@pytest.mark.usefixtures("softhsm_seal")
def test_readyz_opens_a_session_and_times_it(settings: Any, client: Client) -> None:
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    keys_check = json.loads(response.content)["checks"]["keys"]
    assert keys_check["status"] == "ok" and keys_check["ms"] >= 0


# A search on a session the test killed fails again when python-pkcs11 finalises it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.usefixtures("softhsm_seal")
def test_readyz_recovers_when_the_session_was_lost(settings: Any, client: Client) -> None:
    settings.REDIS_URL = ""
    config = hsm.configured()
    assert config is not None
    with hsm.session(config) as handle:
        handle.close()  # as if the HSM had restarted: the cached handle is dead
    assert client.get("/readyz").status_code == 200
    assert _sign(keys.seal_signer(keys.get_key_material()), b"x")


# A search on a session the test killed fails again when python-pkcs11 finalises it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.usefixtures("softhsm_seal")
def test_a_lost_session_while_signing_says_so_and_the_next_seal_works() -> None:
    material = keys.get_key_material()
    signer = keys.seal_signer(material)
    signer.pkcs11_session.close()
    with pytest.raises(hsm.HsmError, match="session with the token was lost"):
        _sign(signer, b"data")
    assert _seal("HSMAFTERLOST").sha256


def test_system_checks_name_a_missing_module_or_token_label(settings: Any) -> None:
    from verification.checks import pkcs11_check

    settings.SIGNFLOW_SEAL_PKCS11_MODULE = ""
    assert pkcs11_check() == []
    settings.SIGNFLOW_SEAL_PKCS11_MODULE = "/nonexistent/libpkcs11.so"
    assert [m.id for m in pkcs11_check()] == ["verification.E001"]
    settings.SIGNFLOW_SEAL_PKCS11_MODULE = __file__
    settings.SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL = ""
    assert [m.id for m in pkcs11_check()] == ["verification.E002"]


def test_the_rotate_command_refuses_a_label_without_a_token(settings: Any) -> None:
    settings.SIGNFLOW_SEAL_PKCS11_MODULE = ""
    with pytest.raises(CommandError, match="are for a PKCS#11 token"):
        call_command("rotate_seal_key", "--label", "x")


@pytest.mark.usefixtures("softhsm_seal")
def test_a_label_already_in_the_token_is_refused() -> None:
    config = hsm.configured()
    assert config is not None
    with pytest.raises(keys.KeysError, match="already has a key labelled"):
        keys.rotate_seal_key(label=config.key_label)


def test_a_key_imported_into_the_token_is_certified_and_seals(
    softhsm_seal: SoftToken, settings: Any
) -> None:
    """A company that made its key with the HSM's own tools: rotate_seal_key --existing-key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pkcs11 import Attribute
    from pkcs11.util.rsa import decode_rsa_private_key, decode_rsa_public_key

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    label = f"{settings.SIGNFLOW_SEAL_PKCS11_KEY_LABEL}-imported"
    config = hsm.configured()
    assert config is not None
    own = {Attribute.LABEL: label, Attribute.ID: b"imported", Attribute.TOKEN: True}
    with hsm.admin_session(config.with_label(label)) as handle:
        private = decode_rsa_private_key(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        handle.create_object({**private, **own, Attribute.SENSITIVE: True, Attribute.SIGN: True})
        public = decode_rsa_public_key(
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.PKCS1
            )
        )
        handle.create_object({**public, **own})

    with pytest.raises(CommandError, match="needs the --label"):
        call_command("rotate_seal_key", "--existing-key")
    call_command("rotate_seal_key", "--label", label, "--existing-key", stdout=io.StringIO())
    softhsm_seal.configure(settings, label)

    material = keys.get_key_material()
    assert material.seal_cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert verify_pdf(data=_bytes(_seal("HSMIMPORTED1"))).verdict == "authentic"
