"""seal_pdf: the sealed file is accepted by independent tools and registered once."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.verification import pdfs
from verification import keys
from verification.models import SealedDocument, SealingKey
from verification.services import SealingError, seal_pdf


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_pdfsig_says_the_seal_is_valid_and_covers_the_whole_file(
    sealed_bytes: bytes, tmp_path: Path
) -> None:
    out = subprocess.run(
        ["pdfsig", str(_write(tmp_path, "sealed.pdf", sealed_bytes))],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    # PAdES B-LTA: the seal covers the file up to its DSS and document timestamp, and the last
    # document timestamp covers the whole file.
    pdfs.assert_pdfsig_lta(out)


def test_qpdf_finds_no_errors_in_the_sealed_file(sealed_bytes: bytes, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["qpdf", "--check", str(_write(tmp_path, "sealed.pdf", sealed_bytes))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors found" in proc.stdout


def test_openssl_accepts_the_timestamp_token(
    sealed: SealedDocument, sealed_bytes: bytes, tmp_path: Path, keys_dir: Path
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    signature = PdfFileReader(io.BytesIO(sealed_bytes)).embedded_signatures[0]
    # The RFC 3161 token stamps the hash of the CMS signature value (signature-time-stamp).
    imprint = hashlib.sha256(signature.signer_info["signature"].native).hexdigest()
    token = _write(tmp_path, "token.der", bytes(sealed.timestamp_token))
    proc = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(token),
            "-token_in",
            "-digest",
            imprint,
            "-CAfile",
            str(keys_dir / "root.pem"),
            "-untrusted",
            str(keys_dir / "tsa" / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verification: OK" in proc.stdout, proc.stdout + proc.stderr


def test_every_page_carries_the_stripe_and_the_certificate_is_appended(
    sealed: SealedDocument, sealed_bytes: bytes, invoice: bytes
) -> None:
    reader = PdfReader(io.BytesIO(sealed_bytes))
    invoice_pages = len(PdfReader(io.BytesIO(invoice)).pages)
    assert len(reader.pages) > invoice_pages
    for page in reader.pages:
        assert "SignFlow K7M2P9XQ4TAB" in page.extract_text()
        assert "https://signflow.example/verify/K7M2P9XQ4TAB/" in page.extract_text()
    certificate = "\n".join(page.extract_text() for page in reader.pages[invoice_pages:])
    for expected in [
        "Certificat",
        "Facture F-2026-00001",
        "ab" * 32,
        "cd" * 32,
        "Jean Dupont",
        "+33 6** ** ** 78",
        "198.51.100.7",
        "2026-07-01 11:11:00 UTC",
        "2026-07-01 13:11:00 CEST",
        "2026-11-27 11:11:00 CET",
        "SignFlow built-in TSA",
        "signature électronique",
    ]:
        assert expected in certificate, expected
    assert reader.metadata is not None
    assert reader.metadata["/SignFlowCode"] == "K7M2P9XQ4TAB"


def test_the_certificate_page_speaks_english_when_asked(db: None, invoice: bytes) -> None:
    document = seal_pdf(
        pdf_bytes=invoice, metadata=pdfs.metadata(code="ENGLISH00001", language="en")
    )
    with document.file.open("rb") as fh:
        reader = PdfReader(fh)
        text = "\n".join(page.extract_text() for page in reader.pages[1:])
        stripe = reader.pages[0].extract_text()
    assert "Certificate of completion" in text
    assert "not a qualified electronic signature" in text
    assert "Verify this document at" in stripe


def test_the_registry_row_records_hash_file_and_timestamp(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    assert sealed.sha256 == hashlib.sha256(sealed_bytes).hexdigest()
    assert sealed.file.name == f"sealed/{sealed.sha256}.pdf"
    assert sealed.size == len(sealed_bytes)
    assert sealed.timestamp_time is not None
    assert sealed.tsa_name == "SignFlow built-in TSA"
    assert bytes(sealed.timestamp_token)[:1] == b"\x30"
    assert sealed.original_sha256 == "ab" * 32
    assert SealingKey.objects.filter(active=True).count() == 1


def test_sealing_twice_with_the_same_code_returns_the_first_document(
    sealed: SealedDocument, invoice: bytes
) -> None:
    again = seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata())
    assert again.pk == sealed.pk
    assert SealedDocument.objects.count() == 1


def test_it_raises_sealing_error_and_registers_nothing_when_the_tsa_fails(
    db: None, invoice: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    async def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise TimestampRequestError("TSA unreachable")

    monkeypatch.setattr(DummyTimeStamper, "async_timestamp", broken)
    monkeypatch.setattr(DummyTimeStamper, "async_dummy_response", broken)
    with pytest.raises(SealingError, match="TSA unreachable"):
        seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata())
    assert not SealedDocument.objects.exists()


def test_it_raises_sealing_error_when_the_external_tsa_is_unreachable(
    db: None, invoice: bytes, settings: Any
) -> None:
    settings.TSA_URL = "http://127.0.0.1:9/tsa"
    with pytest.raises(SealingError):
        seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata())
    assert not SealedDocument.objects.exists()


def test_generated_keys_are_private_and_encrypted(
    material: keys.KeyMaterial, keys_dir: Path
) -> None:
    assert keys_dir.stat().st_mode & 0o777 == 0o700
    for name in ["root.key", "seal.key", "tsa/tsa.key", "root.pem"]:
        assert (keys_dir / name).stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (keys_dir / "seal.key").read_bytes()


def test_a_different_secret_key_cannot_open_the_keys(
    material: keys.KeyMaterial, settings: Any
) -> None:
    settings.SECRET_KEY = "another-secret"
    with pytest.raises(keys.KeysError, match="different SECRET_KEY"):
        keys.get_key_material()


def test_the_registered_token_is_the_one_the_seal_carries(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    """The token is taken from our timestamper as pyHanko receives it, not read back from
    the file: it is byte for byte the signature timestamp embedded in the seal."""
    from verification import pades

    token, when = pades.extract_timestamp_token(sealed_bytes)
    assert bytes(sealed.timestamp_token) == token
    assert sealed.timestamp_time == when


def test_sign_into_a_file_keeps_nothing_in_memory_and_reserves_the_bytes(
    db: None, invoice: bytes, tmp_path: Path
) -> None:
    from verification import pades

    target = tmp_path / "sealed.pdf"
    out = pades.sign(
        pdf_bytes=io.BytesIO(invoice),
        material=keys.get_key_material(),
        reason="test",
        location="test",
        stamp_text="Sealed",
        seal_box=None,
        output_path=str(target),
    )
    assert out.pdf == b"" and out.path == str(target)
    data = target.read_bytes()
    assert pades.extract_timestamp_token(data)[0] == out.timestamp_token
    signature = next(
        field["/V"]
        for field in PdfReader(io.BytesIO(data)).get_fields().values()
        if field.get("/FT") == "/Sig" and field.get("/V")
    )
    assert len(signature.get_object()["/Contents"]) * 2 == pades.BYTES_RESERVED
    result = subprocess.run(["pdfsig", str(target)], capture_output=True, text=True)
    assert "Signature is Valid" in result.stdout
