"""The keys that seal documents: a root CA, the seal certificate and the built-in TSA.

By default they are generated on first use under ``settings.SIGNFLOW_KEYS_DIR`` (directory mode
0700, files 0600, private keys encrypted with a key derived from ``SECRET_KEY``). When
``SEAL_PKCS12_PATH`` is set the seal certificate and key come from that PKCS#12 file instead;
the built-in TSA still uses the generated keys unless ``TSA_URL`` names an external TSA.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

BUILTIN_TSA_NAME = "SignFlow built-in TSA"
SEAL_COMMON_NAME = "SignFlow document seal"
ROOT_COMMON_NAME = "SignFlow Root CA"

# The files that make up one generated set; all of them exist or none is used.
_FILES = ("root.pem", "root.key", "seal.pem", "seal.key", "tsa.pem", "tsa.key")
_VALIDITY_YEARS = {"root": 20, "seal": 10, "tsa": 10}


class KeysError(Exception):
    """The key material cannot be loaded (wrong SECRET_KEY, bad PKCS#12 file...)."""


@dataclass(frozen=True)
class KeyMaterial:
    root_cert: x509.Certificate
    seal_cert: x509.Certificate
    seal_key: Any  # a cryptography private key
    seal_chain: list[x509.Certificate]  # intermediates between seal_cert and a trust root
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey
    source: str  # "generated" | "pkcs12"
    extra_roots: list[x509.Certificate] = field(default_factory=list)

    @property
    def trust_roots(self) -> list[x509.Certificate]:
        return [self.root_cert, *self.extra_roots]

    @property
    def seal_root(self) -> x509.Certificate | None:
        """The trust root the seal certificate chains to (None if not among our roots)."""
        top = self.seal_chain[-1] if self.seal_chain else self.seal_cert
        return next((r for r in self.trust_roots if r.subject == top.issuer), None)

    def root_pem(self) -> bytes:
        return self.root_cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _keys_dir() -> Path:
    return Path(settings.SIGNFLOW_KEYS_DIR)


def _passphrase() -> bytes:
    """A key-encryption passphrase derived from SECRET_KEY, never stored."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"signflow-keys-v1",
        info=b"signflow sealing private keys",
    )
    return hkdf.derive(settings.SECRET_KEY.encode()).hex().encode()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SignFlow"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )


def _key_usage(**kwargs: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(kwargs)
    return x509.KeyUsage(**flags)


def _generate() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    root_name = _name(ROOT_COMMON_NAME)
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * _VALIDITY_YEARS["root"]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )

    def leaf(
        common_name: str, years: int, usage: x509.KeyUsage, eku: x509.ExtendedKeyUsage | None
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
            )
        )
        if eku is not None:
            builder = builder.add_extension(eku, critical=True)
        return builder.sign(root_key, hashes.SHA256()), key

    seal_cert, seal_key = leaf(
        SEAL_COMMON_NAME,
        _VALIDITY_YEARS["seal"],
        _key_usage(digital_signature=True, content_commitment=True),
        None,
    )
    tsa_cert, tsa_key = leaf(
        BUILTIN_TSA_NAME,
        _VALIDITY_YEARS["tsa"],
        _key_usage(digital_signature=True, content_commitment=True),
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
    )
    return {
        "root": (root_cert, root_key),
        "seal": (seal_cert, seal_key),
        "tsa": (tsa_cert, tsa_key),
    }


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _store(directory: Path, material: dict[str, Any]) -> None:
    encryption = serialization.BestAvailableEncryption(_passphrase())
    for name, (cert, key) in material.items():
        _write_private(
            directory / f"{name}.key",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            ),
        )
        _write_private(directory / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM))


def _load(directory: Path) -> dict[str, Any]:
    passphrase = _passphrase()
    loaded: dict[str, Any] = {}
    for name in ("root", "seal", "tsa"):
        cert = x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())
        try:
            key = serialization.load_pem_private_key(
                (directory / f"{name}.key").read_bytes(), password=passphrase
            )
        except ValueError as exc:
            raise KeysError(
                f"Cannot decrypt {directory / (name + '.key')}: the keys were generated with a "
                "different SECRET_KEY. Restore that SECRET_KEY or move the keys directory away "
                "to generate new keys (documents sealed with the old keys stay verifiable only "
                "with the old root certificate)."
            ) from exc
        loaded[name] = (cert, key)
    return loaded


def _ensure_generated(directory: Path) -> dict[str, Any]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Several web and worker processes may start at once: the lock makes exactly one of them
    # generate the keys, the others wait and then load what it wrote.
    with open(directory / ".lock", "a+b") as lock:
        os.chmod(lock.name, 0o600)
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if not all((directory / name).exists() for name in _FILES):
                _store(directory, _generate())
            return _load(directory)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _load_pkcs12(path: str, password: str | None) -> tuple[Any, x509.Certificate, list[Any]]:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            Path(path).read_bytes(), password.encode() if password else None
        )
    except (OSError, ValueError) as exc:
        raise KeysError(
            f"Cannot load the seal certificate from SEAL_PKCS12_PATH={path}: {exc}"
        ) from exc
    if key is None or cert is None:
        raise KeysError(f"SEAL_PKCS12_PATH={path} holds no private key and certificate.")
    return key, cert, list(extra)


_cache: dict[tuple[str, str, str], KeyMaterial] = {}
_cache_lock = threading.Lock()


def _configured_roots() -> list[x509.Certificate]:
    """Extra trust roots (PEM bundle), e.g. the root of an external TSA named by TSA_URL."""
    path = getattr(settings, "SIGNFLOW_TRUST_ROOTS_PATH", "") or ""
    if not path:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise KeysError(f"Cannot load SIGNFLOW_TRUST_ROOTS_PATH={path}: {exc}") from exc


def get_key_material() -> KeyMaterial:
    """The keys in use, generated on first use and cached per process."""
    pkcs12_path = getattr(settings, "SEAL_PKCS12_PATH", "") or ""
    cache_key = (
        str(_keys_dir()),
        pkcs12_path + "|" + str(getattr(settings, "SIGNFLOW_TRUST_ROOTS_PATH", "") or ""),
        hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest(),
    )
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        generated = _ensure_generated(_keys_dir())
        root_cert = generated["root"][0]
        tsa_cert, tsa_key = generated["tsa"]
        if pkcs12_path:
            key, cert, extra = _load_pkcs12(
                pkcs12_path, getattr(settings, "SEAL_PKCS12_PASSWORD", "") or None
            )
            roots = [c for c in extra if c.subject == c.issuer]
            chain = [c for c in extra if c.subject != c.issuer]
            material = KeyMaterial(
                root_cert=root_cert,
                seal_cert=cert,
                seal_key=key,
                seal_chain=chain,
                tsa_cert=tsa_cert,
                tsa_key=tsa_key,
                source="pkcs12",
                extra_roots=roots + _configured_roots(),
            )
        else:
            seal_cert, seal_key = generated["seal"]
            material = KeyMaterial(
                root_cert=root_cert,
                seal_cert=seal_cert,
                seal_key=seal_key,
                seal_chain=[],
                tsa_cert=tsa_cert,
                tsa_key=tsa_key,
                source="generated",
                extra_roots=_configured_roots(),
            )
        _cache[cache_key] = material
        return material


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


# --- asn1crypto views for pyHanko ---------------------------------------------------------------


def to_asn1_cert(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def to_asn1_key(key: Any) -> Any:
    from asn1crypto import keys as asn1_keys

    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def record_sealing_key(material: KeyMaterial) -> None:
    """Remember the seal certificate in use (one row per certificate)."""
    from verification.models import SealingKey

    fp = fingerprint(material.seal_cert)
    root = material.seal_root
    if SealingKey.objects.filter(fingerprint_sha256=fp).exists():
        return
    SealingKey.objects.filter(active=True).exclude(fingerprint_sha256=fp).update(active=False)
    SealingKey.objects.get_or_create(
        fingerprint_sha256=fp,
        defaults={
            "source": material.source,
            "subject": material.seal_cert.subject.rfc4514_string()[:300],
            "root_fingerprint_sha256": fingerprint(root) if root is not None else "",
            "not_after": material.seal_cert.not_valid_after_utc,
            "active": True,
        },
    )
