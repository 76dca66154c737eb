"""`manage.py rotate_seal_key`: a new seal certificate, and every older seal still verifies."""

from __future__ import annotations

import io
from collections.abc import Iterator
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
from verification import keys
from verification.models import SealedDocument, SealingKey
from verification.services import seal_pdf, verify_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_keys(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """A keys folder of this test's own: rotating changes it."""
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "keys"
    keys.clear_cache()
    yield settings.SIGNFLOW_KEYS_DIR
    keys.clear_cache()


def _seal(code: str) -> SealedDocument:
    return seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(code=code))


def _bytes(document: SealedDocument) -> bytes:
    with document.file.open("rb") as fh:
        return fh.read()


def _rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_seal_key", *args, stdout=out)
    return out.getvalue()


def _assert_all_authentic(documents: list[SealedDocument], client: Client, tmp_path: Path) -> None:
    """Our verification (function and page) and pdfsig trusting only our root say valid."""
    nssdir = nss.trusting(keys.get_key_material().root_pem(), tmp_path / "nss")
    for document in documents:
        data = _bytes(document)
        assert verify_pdf(data=data).verdict == "authentic", document.code
        assert b'class="verdict authentic"' in upload(client, data).content, document.code
        path = tmp_path / f"{document.code}.pdf"
        path.write_bytes(data)
        out = nss.pdfsig(path, nssdir)
        pdfs.assert_pdfsig_lta(out)
        assert "Certificate is Trusted" in pdfs.pdfsig_signatures(out)[0], out


@nss.needs_nss
def test_files_sealed_before_a_rotation_stay_authentic(
    own_keys: Path, client: Client, tmp_path: Path
) -> None:
    before = _seal("ROTATEBEFORE")
    old = keys.get_key_material().seal_cert

    out = _rotate()

    new = keys.get_key_material().seal_cert
    assert keys.fingerprint(new) != keys.fingerprint(old)
    assert new.issuer == old.issuer  # the same root: old and new seals chain to it
    assert f"sha256: {keys.fingerprint(new)}" in out
    assert f"previous certificate (still verifiable): {keys.fingerprint(old)}" in out
    retired = own_keys / "retired" / f"seal-{keys.fingerprint(old)[:16]}.pem"
    assert retired.read_bytes() == old.public_bytes(keys.serialization.Encoding.PEM)
    after = _seal("ROTATEAFTER1")
    assert after.metadata["seal_certificate_sha256"] == keys.fingerprint(new)
    assert before.metadata["seal_certificate_sha256"] == keys.fingerprint(old)

    _assert_all_authentic([before, after], client, tmp_path)
    rows = {row.fingerprint_sha256: row.active for row in SealingKey.objects.all()}
    assert rows == {keys.fingerprint(old): False, keys.fingerprint(new): True}


@pytest.mark.usefixtures("own_keys")
def test_a_fresh_install_can_rotate_before_its_first_seal() -> None:
    out = _rotate()
    assert "previous certificate" not in out
    assert SealingKey.objects.get(active=True).fingerprint_sha256 == keys.fingerprint(
        keys.get_key_material().seal_cert
    )


def test_another_process_picks_up_the_rotated_key(own_keys: Path) -> None:
    """A worker with the old key cached seals with the new one once the files changed."""
    cached = keys.get_key_material()
    root_cert, root_key = keys._load_pair(own_keys, "root")
    # What the command does in another process: this process's cache is not cleared.
    keys._retire(own_keys, "seal")
    keys._store(own_keys, {"seal": keys.issue_leaf("seal", root_cert, root_key)})
    assert keys.get_key_material().seal_cert != cached.seal_cert


def test_concurrent_rotations_leave_one_usable_seal_key(own_keys: Path) -> None:
    keys.get_key_material()
    run_in_threads(keys.rotate_seal_key, 3)
    assert len(list((own_keys / "retired").glob("seal-*.pem"))) == 3
    assert _seal("ROTATECONCUR").sha256


def test_a_pkcs12_seal_certificate_is_rotated_by_replacing_the_file(
    settings: Any, own_keys: Path, tmp_path: Path
) -> None:
    settings.SEAL_PKCS12_PATH = str(tmp_path / "seal.p12")
    with pytest.raises(CommandError, match="replace that file"):
        _rotate()
    assert not (own_keys / "retired").exists()


@needs_softhsm
@nss.needs_nss
@pytest.mark.usefixtures("own_keys")  # before softhsm_seal: the token key is for this root
def test_a_token_key_rotation_keeps_older_seals_authentic(
    softhsm_seal: SoftToken, settings: Any, client: Client, tmp_path: Path
) -> None:
    before = _seal("HSMROTATE001")
    old = keys.get_key_material().seal_cert
    label = f"{settings.SIGNFLOW_SEAL_PKCS11_KEY_LABEL}-next"

    out = _rotate("--label", label)

    assert f"SIGNFLOW_SEAL_PKCS11_KEY_LABEL={label}" in out
    # Made, recorded, but not in use until the settings name it.
    assert keys.get_key_material().seal_cert == old
    pending = SealingKey.objects.get(active=False)
    assert pending.source == "pkcs11"
    softhsm_seal.configure(settings, label)
    new = keys.get_key_material().seal_cert
    assert keys.fingerprint(new) == pending.fingerprint_sha256
    after = _seal("HSMROTATE002")
    assert after.metadata["seal_certificate_sha256"] == keys.fingerprint(new)

    _assert_all_authentic([before, after], client, tmp_path)
    rows = {row.fingerprint_sha256: row.active for row in SealingKey.objects.all()}
    assert rows == {keys.fingerprint(old): False, keys.fingerprint(new): True}
