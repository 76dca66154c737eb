"""Key material: generated once across processes, or loaded from a PKCS#12 file."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.verification import pdfs
from verification import keys
from verification.models import SealingKey
from verification.services import seal_pdf, verify_pdf


def _generate_in_child(directory: str, queue: Any) -> None:
    material = keys._ensure_generated(Path(directory))
    queue.put(keys.fingerprint(material["root"][0]))


def test_concurrent_processes_generate_one_key_set(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    directory = tmp_path / "keys"
    children = [
        context.Process(target=_generate_in_child, args=(str(directory), queue)) for _ in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    fingerprints = {queue.get(timeout=5) for _ in children}
    assert len(fingerprints) == 1
    assert sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) == sorted(
        keys._FILES
    )


def test_the_tsa_certificate_has_a_critical_time_stamping_usage(
    material: keys.KeyMaterial,
) -> None:
    eku = material.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]
    usage = material.seal_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment


def _pkcs12_bundle(tmp_path: Path) -> tuple[Path, x509.Certificate]:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme Commercial Root")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(keys._key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Atelier Lumière seal")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            keys._key_usage(digital_signature=True, content_commitment=True), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    path = tmp_path / "seal.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal", key, cert, [ca], serialization.BestAvailableEncryption(b"p12-pass")
        )
    )
    return path, ca


def test_a_pkcs12_seal_certificate_seals_verifiable_documents(
    db: None, tmp_path: Path, settings: Any
) -> None:
    path, ca = _pkcs12_bundle(tmp_path)
    settings.SEAL_PKCS12_PATH = str(path)
    settings.SEAL_PKCS12_PASSWORD = "p12-pass"
    material = keys.get_key_material()
    assert material.source == "pkcs12"
    assert material.seal_root == ca
    document = seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(code="PKCS12SEAL01"))
    with document.file.open("rb") as fh:
        result = verify_pdf(data=fh.read())
    assert result.verdict == "authentic"
    assert "Atelier Lumière seal" in (result.seal.signer if result.seal else "")
    row = SealingKey.objects.get(active=True)
    assert row.source == "pkcs12"
    assert row.root_fingerprint_sha256 == keys.fingerprint(ca)
