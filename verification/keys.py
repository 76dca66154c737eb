"""The keys that seal documents: a root CA, the seal certificate and the built-in TSA.

By default they are generated on first use under ``settings.SIGNFLOW_KEYS_DIR`` (directory mode
0700, files 0600, private keys encrypted with a key derived from ``SECRET_KEY``). When
``SEAL_PKCS12_PATH`` is set the seal certificate and key come from that PKCS#12 file instead;
the built-in TSA still uses the generated keys unless ``TSA_URL`` names an external TSA.

The built-in TSA is its own thing: its key and certificate live in their own folder
(``SIGNFLOW_TSA_KEYS_DIR``, by default ``tsa/`` inside the keys folder) and its private key is
encrypted with a passphrase derived separately from the seal's. Both leaves name the root's
CRL (``/verify/crl/root.crl``, see verification.crl) in their CRL distribution points; leaves
made before that (no CRL distribution point) are replaced on first use by new leaves of the
same root, so documents sealed with the old ones still chain to it.
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
_FILES = ("root.pem", "root.key", "seal.pem", "seal.key", "tsa")
_TSA_FILES = ("tsa.pem", "tsa.key")
_VALIDITY_YEARS = {"root": 20, "seal": 10, "tsa": 10}
CRL_PATH = "/verify/crl/root.crl"


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
    root_key: Any = None  # signs the CRL (verification.crl)

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


def tsa_keys_dir(keys_dir: Path | None = None) -> Path:
    """The built-in TSA's own folder: SIGNFLOW_TSA_KEYS_DIR, else tsa/ in the keys folder."""
    configured = settings.SIGNFLOW_TSA_KEYS_DIR
    return Path(configured) if configured else (keys_dir or _keys_dir()) / "tsa"


def crl_url() -> str:
    """Where our CA publishes its CRL: named in the leaves' CRL distribution points."""
    return f"{settings.SIGNFLOW_BASE_URL}{CRL_PATH}"


def _passphrase(purpose: str = "seal") -> bytes:
    """A key-encryption passphrase derived from SECRET_KEY, never stored (one per purpose)."""
    info = b"signflow sealing private keys" if purpose == "seal" else b"signflow tsa private key"
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"signflow-keys-v1",
        info=info,
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


def _root() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
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
    return root_cert, root_key


def issue_leaf(
    kind: str,
    root_cert: x509.Certificate,
    root_key: rsa.RSAPrivateKey,
    *,
    crl_distribution_point: str | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A new seal ("seal") or TSA ("tsa") certificate signed by our root.

    It never outlives the root; `crl_distribution_point` None makes a leaf without one (the
    layout before CRLs, kept for tests of old key folders).
    """
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    not_after = min(
        now + dt.timedelta(days=365 * _VALIDITY_YEARS[kind]), root_cert.not_valid_after_utc
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(SEAL_COMMON_NAME if kind == "seal" else BUILTIN_TSA_NAME))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
    )
    if kind == "tsa":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    if crl_distribution_point:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_distribution_point)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(root_key, hashes.SHA256()), key


def has_crl_distribution_point(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return False
    return True


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


def _store(directory: Path, material: dict[str, Any], purpose: str = "seal") -> None:
    encryption = serialization.BestAvailableEncryption(_passphrase(purpose))
    for name, (cert, key) in material.items():
        _write_private(
            directory / f"{name}.key",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            ),
        )
        _write_private(directory / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM))


def _load_pair(directory: Path, name: str, purpose: str = "seal") -> tuple[x509.Certificate, Any]:
    cert = x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())
    try:
        key = serialization.load_pem_private_key(
            (directory / f"{name}.key").read_bytes(), password=_passphrase(purpose)
        )
    except ValueError as exc:
        raise KeysError(
            f"Cannot decrypt {directory / (name + '.key')}: the keys were generated with a "
            "different SECRET_KEY. Restore that SECRET_KEY or move the keys directory away "
            "to generate new keys (documents sealed with the old keys stay verifiable only "
            "with the old root certificate)."
        ) from exc
    return cert, key


def _load(directory: Path) -> dict[str, Any]:
    return {
        "root": _load_pair(directory, "root"),
        "seal": _load_pair(directory, "seal"),
        "tsa": _load_pair(tsa_keys_dir(directory), "tsa", "tsa"),
    }


def _retire(directory: Path, name: str) -> None:
    """Keep a replaced leaf (certificate and key) under retired/, never delete it."""
    retired = directory / "retired"
    retired.mkdir(mode=0o700, exist_ok=True)
    cert = x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())
    stem = f"{name}-{fingerprint(cert)[:16]}"
    for suffix in (".pem", ".key"):
        source = directory / f"{name}{suffix}"
        if source.exists():
            os.replace(source, retired / f"{stem}{suffix}")


def _lock(directory: Path) -> Any:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = open(directory / ".lock", "a+b")  # noqa: SIM115 - closed by the caller
    os.chmod(handle.name, 0o600)
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle


def _ensure_generated(directory: Path) -> dict[str, Any]:
    # Several web and worker processes may start at once: the lock makes exactly one of them
    # generate the keys, the others wait and then load what it wrote.
    with _lock(directory):
        if not all((directory / name).exists() for name in ("root.pem", "root.key")):
            for name in ("seal", "tsa"):  # leaves of another root are useless
                for suffix in (".pem", ".key"):
                    (directory / f"{name}{suffix}").unlink(missing_ok=True)
            _store(directory, {"root": _root()})
        root_cert, root_key = _load_pair(directory, "root")
        seal_ok = all((directory / n).exists() for n in ("seal.pem", "seal.key"))
        if seal_ok and not has_crl_distribution_point(
            x509.load_pem_x509_certificate((directory / "seal.pem").read_bytes())
        ):
            _retire(directory, "seal")
            seal_ok = False
        if not seal_ok:
            _store(
                directory,
                {"seal": issue_leaf("seal", root_cert, root_key, crl_distribution_point=crl_url())},
            )
        # The TSA used to share the seal's folder and passphrase: those files are retired.
        if (directory / "tsa.pem").exists():
            _retire(directory, "tsa")
        tsa_dir = tsa_keys_dir(directory)
        if tsa_dir.resolve() == directory.resolve():
            raise KeysError("SIGNFLOW_TSA_KEYS_DIR must not be the seal's keys folder.")
        with _lock(tsa_dir):
            if not all((tsa_dir / n).exists() for n in _TSA_FILES):
                _store(
                    tsa_dir,
                    {
                        "tsa": issue_leaf(
                            "tsa", root_cert, root_key, crl_distribution_point=crl_url()
                        )
                    },
                    purpose="tsa",
                )
        return _load(directory)


def renew_tsa_certificate(*, min_days_left: int) -> bool:
    """Give the built-in TSA a new certificate (and key) when the current one expires soon.

    An archive timestamp made with a certificate about to expire proves nothing for long:
    the archive task renews first. Returns True when a new certificate was issued.
    """
    directory = _keys_dir()
    with _lock(directory):
        root_cert, root_key = _load_pair(directory, "root")
        tsa_dir = tsa_keys_dir()
        with _lock(tsa_dir):
            current, _key = _load_pair(tsa_dir, "tsa", "tsa")
            left = current.not_valid_after_utc - dt.datetime.now(dt.UTC)
            if left > dt.timedelta(days=min_days_left):
                return False
            _retire(tsa_dir, "tsa")
            _store(
                tsa_dir,
                {"tsa": issue_leaf("tsa", root_cert, root_key, crl_distribution_point=crl_url())},
                purpose="tsa",
            )
    clear_cache()
    return True


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
    path = settings.SIGNFLOW_TRUST_ROOTS_PATH
    if not path:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise KeysError(f"Cannot load SIGNFLOW_TRUST_ROOTS_PATH={path}: {exc}") from exc


def get_key_material() -> KeyMaterial:
    """The keys in use, generated on first use and cached per process."""
    pkcs12_path = settings.SEAL_PKCS12_PATH
    try:
        # The archive task may renew the TSA certificate in another process (a worker):
        # its file's modification time makes every process pick up the new one.
        tsa_version = (tsa_keys_dir() / "tsa.pem").stat().st_mtime_ns
    except OSError:
        tsa_version = 0
    cache_key = (
        f"{_keys_dir()}|{tsa_keys_dir()}|{tsa_version}",
        pkcs12_path + "|" + settings.SIGNFLOW_TRUST_ROOTS_PATH,
        hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest(),
    )
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        generated = _ensure_generated(_keys_dir())
        root_cert, root_key = generated["root"]
        tsa_cert, tsa_key = generated["tsa"]
        if pkcs12_path:
            key, cert, extra = _load_pkcs12(pkcs12_path, settings.SEAL_PKCS12_PASSWORD or None)
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
                root_key=root_key,
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
                root_key=root_key,
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
