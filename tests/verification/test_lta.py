"""PAdES B-LTA: a sealed file stays `authentic` after its certificates expire.

The seal embeds our CA's CRL for the seal and TSA chains in a DSS and ends with a document
timestamp; verification validates at the time the timestamps prove; a daily task adds archive
timestamps before the newest timestamp's certificate expires. Checked with pyHanko (revocation
forced, offline), pdfsig, qpdf and openssl, with the clock moved to 2036, 2037 and 2045.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.test import Client

from tests.verification import pdfs
from verification import archive, crl, keys, pades, tasks
from verification.models import SealedDocument
from verification.services import SealingError, seal_pdf, verify_pdf

UTC = dt.UTC
PORT = 18931  # this suite's loopback TSA (ports 18900-18949 are ours)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _reader(data: bytes) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(data), strict=False)


@pytest.fixture
def own_keys(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """A key folder of this test only (tests here renew the TSA certificate or revoke)."""
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "own-keys"
    keys.clear_cache()
    yield settings.SIGNFLOW_KEYS_DIR
    keys.clear_cache()


# --- the sealed file --------------------------------------------------------------------------


def test_the_seal_is_pades_b_lta_with_our_crl_in_a_dss(
    sealed: SealedDocument, sealed_bytes: bytes, material: keys.KeyMaterial
) -> None:
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = _reader(sealed_bytes)
    assert [s.field_name for s in reader.embedded_regular_signatures] == [pades.SEAL_FIELD_NAME]
    stamps = reader.embedded_timestamp_signatures
    assert len(stamps) == 1
    dss = DocumentSecurityStore.read_dss(reader)
    context = dss.as_validation_context({})
    assert context is not None
    # The seal's and the TSA's chains are in the DSS, with our CRL for them.
    dss_certs = {cert.sha256.hex() for cert in dss.load_certs()}
    for cert in (material.seal_cert, material.tsa_cert, material.root_cert):
        assert keys.fingerprint(cert) in dss_certs
    crls = [x509.load_der_x509_crl(ref.get_object().data) for ref in dss.crls]
    assert crls and all(c.issuer == material.root_cert.subject for c in crls)
    assert all(c.is_signature_valid(material.root_cert.public_key()) for c in crls)  # type: ignore[arg-type]
    result = verify_pdf(data=sealed_bytes, with_diff=False)
    assert result.verdict == "authentic", result.reasons
    seal = result.seal
    assert seal is not None
    # Not ENTIRE_FILE any more: the seal's revision is followed by the DSS and the timestamp.
    assert seal.coverage == "ENTIRE_REVISION"
    assert seal.modification_level == "LTA_UPDATES"
    assert seal.document_timestamps[-1].coverage == "ENTIRE_FILE"


def test_certificates_name_the_published_crl(
    material: keys.KeyMaterial, settings: Any, db: None
) -> None:
    for cert in (material.seal_cert, material.tsa_cert):
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        urls = [name.value for point in points for name in point.full_name or []]
        assert urls == ["https://signflow.example/verify/crl/root.crl"]
    response = Client().get("/verify/crl/root.crl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    published = x509.load_der_x509_crl(response.content)
    assert published.is_signature_valid(material.root_cert.public_key())  # type: ignore[arg-type]
    assert (
        published.get_revoked_certificate_by_serial_number(material.seal_cert.serial_number) is None
    )
    assert Client().post("/verify/crl/root.crl").status_code == 405


def test_the_tsa_has_its_own_key_folder_secret_policy_and_accuracy(
    material: keys.KeyMaterial, sealed: SealedDocument, keys_dir: Path
) -> None:
    from asn1crypto import cms

    assert (keys_dir / "tsa" / "tsa.pem").exists() and not (keys_dir / "tsa.pem").exists()
    assert material.tsa_cert.public_key() != material.seal_cert.public_key()
    # The TSA key does not open with the seal's passphrase, and the reverse.
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(
            (keys_dir / "tsa" / "tsa.key").read_bytes(), password=keys._passphrase("seal")
        )
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(
            (keys_dir / "seal.key").read_bytes(), password=keys._passphrase("tsa")
        )
    token = cms.ContentInfo.load(bytes(sealed.timestamp_token))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["policy"].dotted == pades.DEFAULT_TSA_POLICY_OID
    assert not tst_info["policy"].dotted.startswith("1.3.6.1.4.1.4146")  # pyHanko's example
    assert tst_info["accuracy"]["seconds"].native == 1


def test_the_tsa_policy_oid_is_configurable(
    db: None, invoice: bytes, settings: Any, material: keys.KeyMaterial
) -> None:
    from asn1crypto import cms

    settings.SIGNFLOW_TSA_POLICY_OID = "1.2.250.1.999.1.2.3"
    document = seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata(code="POLICY000001"))
    token = cms.ContentInfo.load(bytes(document.timestamp_token))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["policy"].dotted == "1.2.250.1.999.1.2.3"


@pytest.mark.parametrize("year", [2037, 2045])
def test_an_untouched_sealed_file_stays_authentic_after_its_certificates_expire(
    sealed: SealedDocument, sealed_bytes: bytes, material: keys.KeyMaterial, year: int
) -> None:
    assert material.seal_cert.not_valid_after_utc < dt.datetime(year, 1, 1, tzinfo=UTC)
    assert material.tsa_cert.not_valid_after_utc < dt.datetime(year, 1, 1, tzinfo=UTC)
    with time_machine.travel(dt.datetime(year, 1, 1, 12, tzinfo=UTC), tick=False):
        result = verify_pdf(data=sealed_bytes, with_diff=False)
    assert result.verdict == "authentic", result.reasons
    assert result.seal is not None
    validated_at = result.seal.validation_time
    assert validated_at is not None and validated_at.year < year


_CHILD = """
import datetime as dt, os, sys
import time_machine
if sys.argv[1] != "now":
    # The clock moves before Django, pyHanko or anything else is imported.
    time_machine.travel(dt.datetime.fromisoformat(sys.argv[1]), tick=True).start()
import django
django.setup()
from django.core.management import call_command
from tests.verification import pdfs
if sys.argv[1] == "now":
    call_command("migrate", verbosity=0)
    from verification.services import seal_pdf
    document = seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata())
    with document.file.open("rb") as fh, open(sys.argv[2], "wb") as out:
        out.write(fh.read())
else:
    call_command("verify", sys.argv[2])
"""


@pytest.mark.django_db
def test_with_the_clock_moved_before_django_starts_the_file_stays_authentic(
    tmp_path: Path,
) -> None:
    import os
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "signflow.settings",
        "DEBUG": "1",
        "SIGNFLOW_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'clock.sqlite3'}",
        "SIGNFLOW_BASE_URL": "https://signflow.example",
        "TSA_URL": "",
        "SEAL_PKCS12_PATH": "",
    }
    env.pop("SIGNFLOW_KEYS_DIR", None)
    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "sealed.pdf"

    def child(moment: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _CHILD, moment, str(path)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    sealed = child("now")
    assert sealed.returncode == 0, sealed.stderr
    for moment in ("2037-01-01T00:00:00+00:00", "2045-01-01T00:00:00+00:00"):
        checked = child(moment)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "verdict: authentic" in checked.stdout, checked.stdout


def test_appending_after_the_timestamp_is_still_modified(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    result = verify_pdf(data=pdfs.append_incremental_update(sealed_bytes), with_diff=False)
    assert result.verdict == "modified"
    assert "appended" in result.reasons


def test_an_untouched_lta_file_under_another_root_is_untrusted_not_appended(
    sealed: SealedDocument, sealed_bytes: bytes, settings: Any, tmp_path: Path
) -> None:
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "other-root"
    keys.clear_cache()
    try:
        result = verify_pdf(data=sealed_bytes, with_diff=False)
    finally:
        keys.clear_cache()
    assert result.verdict == "modified"
    assert "signature_untrusted" in result.reasons
    assert "appended" not in result.reasons


def test_a_file_with_too_many_document_timestamps_is_not_authentic(
    sealed: SealedDocument, sealed_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pades, "MAX_DOCUMENT_TIMESTAMPS", 0)
    result = verify_pdf(data=sealed_bytes, with_diff=False)
    assert result.verdict == "modified"
    assert result.seal is not None
    assert any("document timestamps" in error for error in result.seal.errors)


def test_pyhanko_validates_offline_with_revocation_checking_forced(
    sealed_bytes: bytes, material: keys.KeyMaterial
) -> None:
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko_certvalidator import ValidationContext

    reader = _reader(sealed_bytes)
    root = keys.to_asn1_cert(material.root_cert)

    def context(**extra: Any) -> Any:
        # "require": every certificate needs revocation data; nothing is fetched.
        return DocumentSecurityStore.read_dss(reader).as_validation_context(
            {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require", **extra}
        )

    seal = reader.embedded_regular_signatures[0]
    status = validate_pdf_signature(
        seal, signer_validation_context=context(), ts_validation_context=context()
    )
    assert status.bottom_line, status.pretty_print_details()
    stamp = reader.embedded_timestamp_signatures[-1]
    ts_status = validate_pdf_timestamp(stamp, validation_context=context())
    assert ts_status.intact and ts_status.valid and ts_status.trusted, ts_status
    # Without the file's revocation data the same forced check fails: it is really checked.
    bare = ValidationContext(
        trust_roots=[root], allow_fetching=False, revocation_mode="require", crls=[], ocsps=[]
    )
    assert not validate_pdf_signature(seal, signer_validation_context=bare).bottom_line


def test_a_revoked_seal_certificate_cannot_seal(own_keys: Path, db: None, invoice: bytes) -> None:
    material = keys.get_key_material()
    crl.revoke(material.seal_cert)
    published = crl.current_crl(material)
    assert published.get_revoked_certificate_by_serial_number(material.seal_cert.serial_number)
    with pytest.raises(SealingError):
        seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata(code="REVOKED00001"))
    assert not SealedDocument.objects.filter(code="REVOKED00001").exists()


def test_pdfsig_qpdf_and_openssl_accept_the_lta_file(
    sealed: SealedDocument, sealed_bytes: bytes, tmp_path: Path, keys_dir: Path
) -> None:
    path = _write(tmp_path, "sealed.pdf", sealed_bytes)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    pdfs.assert_pdfsig_lta(out)
    qpdf = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr
    # The document timestamp token stamps the hash of the bytes its byte range covers.
    reader = _reader(sealed_bytes)
    stamp = reader.embedded_timestamp_signatures[-1]
    imprint = stamp.compute_digest().hex()
    from asn1crypto import cms

    content_info = cms.ContentInfo({"content_type": "signed_data", "content": stamp.signed_data})
    token = _write(tmp_path, "doc-ts.der", content_info.dump())
    proc = subprocess.run(
        [
            "openssl", "ts", "-verify", "-in", str(token), "-token_in", "-digest", imprint,
            "-CAfile", str(keys_dir / "root.pem"),
            "-untrusted", str(keys_dir / "tsa" / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert "Verification: OK" in proc.stdout, proc.stdout + proc.stderr


# --- archive timestamps -----------------------------------------------------------------------


def test_the_archive_task_adds_a_timestamp_only_when_the_newest_certificate_nears_expiry(
    own_keys: Path, db: None, invoice: bytes, tmp_path: Path
) -> None:
    document = seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata(code="ARCHIVE00001"))
    with document.file.open("rb") as fh:
        original = fh.read()
    first_tsa = keys.get_key_material().tsa_cert

    # Today the newest timestamp's certificate has ten years left: nothing to do.
    assert tasks.add_archive_timestamps() == 0
    document.refresh_from_db()
    assert archive.ARCHIVE_KEY not in document.metadata
    assert document.metadata[archive.EXPIRY_KEY].startswith("2036-")

    # Six months before it expires, the daily task renews the TSA and adds a timestamp.
    with time_machine.travel(dt.datetime(2036, 6, 1, 3, tzinfo=UTC), tick=False):
        assert tasks.add_archive_timestamps() == 1
        assert tasks.add_archive_timestamps() == 0  # once is enough
    document.refresh_from_db()
    entries = document.metadata[archive.ARCHIVE_KEY]
    assert len(entries) == 1
    renewed_tsa = keys.get_key_material().tsa_cert
    assert renewed_tsa.serial_number != first_tsa.serial_number
    assert renewed_tsa.not_valid_after_utc > first_tsa.not_valid_after_utc
    assert (own_keys / "tsa" / "retired").is_dir()
    _path, extended = archive.current_copy(document)
    assert extended.startswith(original)
    assert hashlib.sha256(extended).hexdigest() == entries[0]["sha256"]
    reader = _reader(extended)
    stamps = reader.embedded_timestamp_signatures
    assert len(stamps) == 2
    newest = stamps[-1].signer_cert
    assert newest.serial_number == renewed_tsa.serial_number

    # Our copy and the copy the parties downloaded both stay authentic, long after.
    for year in (2037, 2045):
        with time_machine.travel(dt.datetime(year, 1, 1, 12, tzinfo=UTC), tick=False):
            for data in (original, extended):
                result = verify_pdf(data=data, with_diff=False)
                assert result.verdict == "authentic", (year, result.reasons)
                assert result.sealed == document
    # The archived copy passes the same outside checks.
    path = _write(tmp_path, "archived.pdf", extended)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    pdfs.assert_pdfsig_lta(out)
    assert len(pdfs.pdfsig_signatures(out)) == 3
    qpdf = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr
    # Anything else appended to the archived copy is still a modification.
    tampered = verify_pdf(data=pdfs.append_incremental_update(extended), with_diff=False)
    assert tampered.verdict == "modified"


def test_the_daily_task_is_scheduled(settings: Any) -> None:
    from signflow.celery import app

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if "archive" in e["task"]]
    assert entries == [{"task": "verification.tasks.add_archive_timestamps", "schedule": 86400.0}]
    assert "verification.tasks.add_archive_timestamps" in app.tasks


def test_the_crl_is_reissued_when_a_day_old(own_keys: Path, db: None) -> None:
    material = keys.get_key_material()
    first = crl.current_crl(material)
    assert crl.current_crl(material).last_update_utc == first.last_update_utc
    with time_machine.travel(dt.datetime.now(UTC) + dt.timedelta(days=1, minutes=5)):
        second = crl.current_crl(material)
        served = Client().get("/verify/crl/root.crl").content
    assert second.last_update_utc > first.last_update_utc
    assert x509.load_der_x509_crl(served).last_update_utc == second.last_update_utc


def test_a_tsa_certificate_renewed_by_another_process_is_picked_up(own_keys: Path) -> None:
    material = keys.get_key_material()
    root_cert, root_key = keys._load_pair(own_keys, "root")
    # What renew_tsa_certificate does in a worker, without clearing this process's cache.
    renewed = keys.issue_leaf("tsa", root_cert, root_key, crl_distribution_point=keys.crl_url())
    keys._store(own_keys / "tsa", {"tsa": renewed}, purpose="tsa")
    assert keys.get_key_material().tsa_cert == renewed[0] != material.tsa_cert


# --- the keys made before CRLs ----------------------------------------------------------------


def _old_layout(directory: Path) -> tuple[x509.Certificate, x509.Certificate, Any, Any, Any]:
    """A key folder as the previous version wrote it: no CRL DP, TSA next to the seal."""
    root_cert, root_key = keys._root()
    seal_cert, seal_key = keys.issue_leaf("seal", root_cert, root_key)
    tsa_cert, tsa_key = keys.issue_leaf("tsa", root_cert, root_key)
    directory.mkdir(mode=0o700, parents=True)
    keys._store(
        directory,
        {"root": (root_cert, root_key), "seal": (seal_cert, seal_key), "tsa": (tsa_cert, tsa_key)},
    )
    return root_cert, seal_cert, seal_key, tsa_cert, tsa_key


def _seal_b_t(pdf: bytes, seal_cert: Any, seal_key: Any, tsa_cert: Any, tsa_key: Any) -> bytes:
    """What the previous version produced: a certified B-T seal, no DSS."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps

    signer = signers.SimpleSigner(
        signing_cert=keys.to_asn1_cert(seal_cert),
        signing_key=keys.to_asn1_key(seal_key),
        cert_registry=None,
    )
    meta = signers.PdfSignatureMetadata(
        field_name=pades.SEAL_FIELD_NAME,
        md_algorithm="sha256",
        certify=True,
        subfilter=fields.SigSeedSubFilter.PADES,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    stamper = timestamps.DummyTimeStamper(
        tsa_cert=keys.to_asn1_cert(tsa_cert), tsa_key=keys.to_asn1_key(tsa_key)
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False), meta, signer, timestamper=stamper
    )
    return bytes(out.getvalue())


def test_old_keys_get_new_leaves_and_old_seals_stay_verifiable(
    own_keys: Path, db: None, invoice: bytes
) -> None:
    root_cert, old_seal, old_seal_key, old_tsa, old_tsa_key = _old_layout(own_keys)
    old_file = _seal_b_t(invoice, old_seal, old_seal_key, old_tsa, old_tsa_key)
    SealedDocument.objects.create(
        code="OLDCHAIN0001",
        sha256=hashlib.sha256(old_file).hexdigest(),
        size=len(old_file),
        file="sealed/old.pdf",
        sealed_at=dt.datetime.now(UTC),
    )

    material = keys.get_key_material()
    assert material.root_cert == root_cert  # same root: old seals still chain to it
    assert material.seal_cert != old_seal and material.tsa_cert != old_tsa
    assert keys.has_crl_distribution_point(material.seal_cert)
    assert keys.has_crl_distribution_point(material.tsa_cert)
    assert not (own_keys / "tsa.pem").exists()
    assert len(list((own_keys / "retired").glob("*.pem"))) == 2

    result = verify_pdf(data=old_file, with_diff=False)
    assert result.verdict == "authentic", (result.reasons, result.signatures)
    new = seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata(code="NEWCHAIN0001"))
    with new.file.open("rb") as fh:
        assert verify_pdf(data=fh.read(), with_diff=False).verdict == "authentic"


# --- an external TSA (TSA_URL) ----------------------------------------------------------------


def _external_tsa(tmp_path: Path) -> tuple[Any, Path]:
    """A TSA of another organisation: its own root, a TSA certificate without CRL DP."""
    from pyhanko.sign import timestamps

    now = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    ca_key = keys.rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Horodatage Externe Root")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(keys._key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = keys.rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Horodatage Externe")]))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            keys._key_usage(digital_signature=True, content_commitment=True), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    roots = _write(tmp_path, "external-roots.pem", ca.public_bytes(serialization.Encoding.PEM))
    stamper = timestamps.DummyTimeStamper(
        tsa_cert=keys.to_asn1_cert(tsa), tsa_key=keys.to_asn1_key(tsa_key)
    )
    return stamper, roots


class _TSAHandler(BaseHTTPRequestHandler):
    """RFC 3161 over HTTP (application/timestamp-query) and our CRL, on loopback."""

    stamper: Any = None
    crl_der: bytes = b""
    queries: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        from asn1crypto import tsp

        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.queries.append(self.headers.get("Content-Type", ""))
        response = self.stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
        self._send(response, "application/timestamp-reply")

    def do_GET(self) -> None:  # noqa: N802
        self._send(self.crl_der, "application/pkix-crl")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_tsa_url_seals_with_a_local_rfc3161_server(
    own_keys: Path, db: None, invoice: bytes, settings: Any, tmp_path: Path
) -> None:
    from asn1crypto import cms

    stamper, roots = _external_tsa(tmp_path)
    base = f"http://127.0.0.1:{PORT}"
    # Our CRL is fetched by URL too when a TSA of another organisation is involved: the
    # base URL points at the same loopback server so nothing leaves the machine.
    settings.SIGNFLOW_BASE_URL = base
    settings.SIGNFLOW_TRUST_ROOTS_PATH = str(roots)
    keys.clear_cache()
    material = keys.get_key_material()
    handler = type(
        "Handler",
        (_TSAHandler,),
        {
            "stamper": stamper,
            "queries": [],
            "crl_der": crl.current_crl(material).public_bytes(serialization.Encoding.DER),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", PORT), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.TSA_URL = f"{base}/tsa"
        document = seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata(code="EXTTSA000001"))
    finally:
        server.shutdown()
        server.server_close()
    assert handler.queries and set(handler.queries) == {"application/timestamp-query"}
    assert document.tsa_name == f"{base}/tsa"
    token = cms.ContentInfo.load(bytes(document.timestamp_token))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert "Horodatage Externe" in tst_info["tsa"].chosen.human_friendly
    with document.file.open("rb") as fh:
        data = fh.read()
    stamps = _reader(data).embedded_timestamp_signatures
    assert "Horodatage Externe" in stamps[-1].signer_cert.subject.human_friendly
    result = verify_pdf(data=data, with_diff=False)
    assert result.verdict == "authentic", result.reasons
    assert result.seal is not None and "Horodatage Externe" in result.seal.timestamp_tsa
