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
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction

from verification import hsm

logger = logging.getLogger(__name__)

BUILTIN_TSA_NAME = "SignFlow built-in TSA"
SEAL_COMMON_NAME = "SignFlow document seal"
ROOT_COMMON_NAME = "SignFlow Root CA"

# The files that make up one generated set; all of them exist or none is used.
_FILES = ("root.pem", "root.key", "seal.pem", "seal.key", "tsa")
_TSA_FILES = ("tsa.pem", "tsa.key")
_VALIDITY_YEARS = {"root": 20, "seal": 10, "tsa": 10}
CRL_PATH = "/verify/crl/root.crl"
# A copy of the PKCS#11 token's seal certificate (and chain): verification reads it, never the
# token, so a process started during an HSM outage still verifies.
SEAL_COPY_FILE = "seal-pkcs11.pem"


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
    """A new seal ("seal") or TSA ("tsa") key and certificate signed by our root.

    It never outlives the root; `crl_distribution_point` None makes a leaf without one (the
    layout before CRLs, kept for tests of old key folders).
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = leaf_certificate(
        kind,
        key.public_key(),
        root_cert,
        root_key,
        crl_distribution_point=crl_distribution_point,
    )
    return cert, key


def leaf_certificate(
    kind: str,
    public_key: rsa.RSAPublicKey,
    root_cert: x509.Certificate,
    root_key: rsa.RSAPrivateKey,
    *,
    crl_distribution_point: str | None = None,
) -> x509.Certificate:
    """A seal or TSA certificate for `public_key` (a key of ours, or one held by a token)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    not_after = min(
        now + dt.timedelta(days=365 * _VALIDITY_YEARS[kind]), root_cert.not_valid_after_utc
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(SEAL_COMMON_NAME if kind == "seal" else BUILTIN_TSA_NAME))
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
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
    return builder.sign(root_key, hashes.SHA256())


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


def _load(directory: Path, *, seal: bool = True) -> dict[str, Any]:
    loaded = {
        "root": _load_pair(directory, "root"),
        "tsa": _load_pair(tsa_keys_dir(directory), "tsa", "tsa"),
    }
    if seal:
        loaded["seal"] = _load_pair(directory, "seal")
    return loaded


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


def _ensure_seal(directory: Path, root_cert: x509.Certificate, root_key: Any) -> None:
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


def _ensure_tsa(directory: Path, root_cert: x509.Certificate, root_key: Any) -> None:
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
                {"tsa": issue_leaf("tsa", root_cert, root_key, crl_distribution_point=crl_url())},
                purpose="tsa",
            )


def _ensure_generated(directory: Path, *, seal: bool = True) -> dict[str, Any]:
    """The root, the TSA and (unless the seal key is in a token) the seal keys, made once."""
    move_legacy_keys(directory)
    # Several web and worker processes may start at once: the lock makes exactly one of them
    # generate the keys, the others wait and then load what it wrote.
    with _lock(directory):
        if not all((directory / name).exists() for name in ("root.pem", "root.key")):
            for name in ("seal", "tsa"):  # leaves of another root are useless
                for suffix in (".pem", ".key"):
                    (directory / f"{name}{suffix}").unlink(missing_ok=True)
            _store(directory, {"root": _root()})
        root_cert, root_key = _load_pair(directory, "root")
        if seal:
            _ensure_seal(directory, root_cert, root_key)
        _ensure_tsa(directory, root_cert, root_key)
        return _load(directory, seal=seal)


def _legacy_keys_dir(directory: Path) -> Path | None:
    """MEDIA_ROOT/keys of an older install, when it holds keys that `directory` lacks."""
    configured = settings.SIGNFLOW_LEGACY_KEYS_DIR
    legacy = Path(configured) if configured else None
    if legacy is None or not (legacy / "root.key").exists():
        return None
    if legacy.resolve() == directory.resolve():
        return None
    return legacy


def _copy_into(source: Path, target: Path) -> None:
    """Copy a keys folder, root.key last: its presence says the copy is complete."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    entries = sorted(source.iterdir(), key=lambda entry: entry.name == "root.key")
    for entry in entries:
        if entry.name == ".lock":
            continue
        if entry.is_dir():
            _copy_into(entry, target / entry.name)
        else:
            _write_private(target / entry.name, entry.read_bytes())


def move_legacy_keys(directory: Path) -> bool:
    """Move the keys an older install kept in MEDIA_ROOT/keys to `directory` (first use).

    Documents sealed with them stay verifiable: the same root and certificates, in their new
    folder. The copy completes before the old folder goes; a crash in between leaves a full
    copy to finish from. Returns True when keys were moved.
    """
    legacy = _legacy_keys_dir(directory)
    if legacy is None:
        return False
    with _lock(legacy):
        if not (legacy / "root.key").exists():
            return False  # another process moved them while this one waited
        if (directory / "root.key").exists():
            if (directory / "root.key").read_bytes() != (legacy / "root.key").read_bytes():
                logger.warning(
                    "Keys in %s and in %s differ: %s is used; move the other one away.",
                    legacy,
                    directory,
                    directory,
                )
                return False
        else:
            _copy_into(legacy, directory)
        shutil.rmtree(legacy)
    logger.warning("Moved the sealing keys from %s to %s (outside MEDIA_ROOT).", legacy, directory)
    return True


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


_cache: dict[tuple[str, ...], KeyMaterial] = {}
_verify_cache: dict[tuple[str, ...], KeyMaterial] = {}
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


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _cache_key() -> tuple[str, ...]:
    token = hsm.configured()
    return (
        # A rotation (seal.pem) or the archive task's TSA renewal (tsa.pem) in another
        # process: the files' modification times make every process pick up the new ones.
        f"{_keys_dir()}|{_mtime(_keys_dir() / 'seal.pem')}",
        f"{tsa_keys_dir()}|{_mtime(tsa_keys_dir() / 'tsa.pem')}",
        settings.SEAL_PKCS12_PATH,
        settings.SIGNFLOW_TRUST_ROOTS_PATH,
        repr(token),  # the token's module and labels, never its PIN
        hashlib.sha256(f"{settings.SECRET_KEY}|{token.pin if token else ''}".encode()).hexdigest(),
    )


def _pkcs12_material(generated: dict[str, Any], path: str) -> KeyMaterial:
    key, cert, extra = _load_pkcs12(path, settings.SEAL_PKCS12_PASSWORD or None)
    return KeyMaterial(
        root_cert=generated["root"][0],
        seal_cert=cert,
        seal_key=key,
        seal_chain=[c for c in extra if c.subject != c.issuer],
        tsa_cert=generated["tsa"][0],
        tsa_key=generated["tsa"][1],
        source="pkcs12",
        extra_roots=[c for c in extra if c.subject == c.issuer] + _configured_roots(),
        root_key=generated["root"][1],
    )


def _token_material(generated: dict[str, Any], token: hsm.TokenConfig) -> KeyMaterial:
    try:
        cert = hsm.load_certificate(token)
    except hsm.HsmError as exc:
        raise KeysError(str(exc)) from exc
    keep_token_certificate(cert)
    # The private key stays in the token: seal_signer signs there.
    return _own_root_material(generated, seal=(cert, None), source="pkcs11")


def _token_cert_path() -> Path:
    return _keys_dir() / SEAL_COPY_FILE


def keep_token_certificate(
    cert: x509.Certificate, chain: tuple[x509.Certificate, ...] = ()
) -> None:
    """Copy the token's seal certificate (and chain) to the keys folder, for verification.

    Written when it changes only (its modification time is in the verification cache key).
    A folder that cannot be written costs the copy, never the seal: logged.
    """
    path = _token_cert_path()
    data = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *chain])
    try:
        if path.is_file() and path.read_bytes() == data:
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, data)
    except OSError as exc:
        logger.warning("Cannot keep a copy of the token's seal certificate in %s: %s", path, exc)


def _token_certificate_copy(root: x509.Certificate) -> tuple[x509.Certificate, list[Any]]:
    """The copy kept by keep_token_certificate: the seal certificate and its chain.

    Before any process has read the token (a new install, an upgrade, during an outage) there
    is none: the root stands in. Our seals are then known by their field, and verified
    against the root all the same.
    """
    path = _token_cert_path()
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except FileNotFoundError:
        logger.warning("No copy of the token's seal certificate in %s yet.", path)
        return root, []
    except (OSError, ValueError) as exc:
        raise KeysError(f"Cannot read the copy of the token's certificate {path}: {exc}") from exc
    return certs[0], certs[1:]


def verification_material() -> KeyMaterial:
    """The certificates and trust roots verification needs; never opens a PKCS#11 token.

    With the seal key in a token: the root and the TSA of the keys folder and the copy of the
    token's certificate (seal_key None). Otherwise the same as get_key_material.
    """
    token = None if settings.SEAL_PKCS12_PATH else hsm.configured()
    if token is None:
        return get_key_material()
    cache_key = (*_cache_key(), f"{SEAL_COPY_FILE}|{_mtime(_token_cert_path())}")
    with _cache_lock:
        cached = _verify_cache.get(cache_key)
        if cached is None:
            generated = _ensure_generated(_keys_dir(), seal=False)
            cert, chain = _token_certificate_copy(generated["root"][0])
            cached = replace(
                _own_root_material(generated, seal=(cert, None), source="pkcs11"),
                seal_chain=chain,
            )
            _verify_cache[cache_key] = cached
        return cached


def _own_root_material(
    generated: dict[str, Any], *, seal: tuple[x509.Certificate, Any], source: str
) -> KeyMaterial:
    """A seal certificate issued by our root, with the root and TSA of the keys folder."""
    return KeyMaterial(
        root_cert=generated["root"][0],
        seal_cert=seal[0],
        seal_key=seal[1],
        seal_chain=[],
        tsa_cert=generated["tsa"][0],
        tsa_key=generated["tsa"][1],
        source=source,
        extra_roots=_configured_roots(),
        root_key=generated["root"][1],
    )


def get_key_material() -> KeyMaterial:
    """The keys in use, generated on first use and cached per process.

    The seal key comes from SEAL_PKCS12_PATH, else from the PKCS#11 token when
    SIGNFLOW_SEAL_PKCS11_MODULE is set, else from the keys folder.
    """
    pkcs12_path = settings.SEAL_PKCS12_PATH
    token = None if pkcs12_path else hsm.configured()
    cache_key = _cache_key()
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        generated = _ensure_generated(_keys_dir(), seal=not pkcs12_path and token is None)
        if pkcs12_path:
            material = _pkcs12_material(generated, pkcs12_path)
        elif token is not None:
            material = _token_material(generated, token)
        else:
            material = _own_root_material(generated, seal=generated["seal"], source="generated")
        _cache[cache_key] = material
        return material


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _verify_cache.clear()


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


def seal_signer(material: KeyMaterial) -> Any:
    """pyHanko's signer for the seal: our loaded key, or the PKCS#11 token's key."""
    others = [to_asn1_cert(c) for c in [*material.seal_chain, *material.trust_roots]]
    token = hsm.configured() if material.source == "pkcs11" else None
    if token is not None:
        try:
            return hsm.signer(
                token, signing_cert=to_asn1_cert(material.seal_cert), other_certs=others
            )
        except hsm.HsmError as exc:
            raise KeysError(str(exc)) from exc
    from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: PLC0415

    from verification.pades import _signer_classes  # noqa: PLC0415 - pades imports this module

    return _signer_classes()[0](
        loaded_key=material.seal_key,
        signing_cert=to_asn1_cert(material.seal_cert),
        signing_key=to_asn1_key(material.seal_key),
        cert_registry=SimpleCertificateStore.from_certs(others),
    )


def token_failure(exc: BaseException) -> str | None:
    """Why the seal key failed when `exc` (or what caused it) is a key or token error, else None.

    Sealing records these as `signer_keys`: the key could not be used, the document is fine.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeysError | hsm.HsmError):
            return str(current)
        token = hsm.configured()
        if (
            type(current).__module__.startswith("pkcs11.")
            and token
            and isinstance(current, Exception)
        ):
            return str(hsm.explain(current, token))
        current = current.__cause__ or current.__context__
    return None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_reachable() -> None:
    """For /readyz: the keys load, and the token's session opens and finds the seal key.

    Never generates keys: on a fresh install that is the first seal's job (under its lock).
    Raises on failure (KeysError, HsmError, OSError); the message may name paths.
    """
    token = None if settings.SEAL_PKCS12_PATH else hsm.configured()
    if token is not None:
        hsm.check(token)  # every probe: a token can go away while the material is cached
    directory = _keys_dir()
    if (directory / "root.pem").exists() and (directory / "root.key").exists():
        get_key_material()  # cached per process after the first load
        return
    if _legacy_keys_dir(directory) is not None:
        get_key_material()  # moves them out of MEDIA_ROOT, then loads them
        return
    pkcs12_path = settings.SEAL_PKCS12_PATH
    if pkcs12_path and not os.access(pkcs12_path, os.R_OK):
        raise PermissionError("SEAL_PKCS12_PATH cannot be read")
    parent = _nearest_existing(directory)
    if not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
        raise PermissionError("keys folder cannot be created")


def current_seal_certificate() -> x509.Certificate | None:
    """The seal certificate in use, generating nothing: None before the first seal."""
    directory = _keys_dir()
    in_files = hsm.configured() is None and not settings.SEAL_PKCS12_PATH
    if in_files and not (directory / "seal.pem").exists() and not _legacy_keys_dir(directory):
        return None
    try:
        return get_key_material().seal_cert
    except KeysError:
        return None


@dataclass(frozen=True)
class Rotation:
    certificate: x509.Certificate
    root: x509.Certificate  # the root that issued it
    source: str  # "generated" | "pkcs11"
    active: bool  # False: a token key the settings do not name yet
    label: str = ""  # the token's key label


def rotate_seal_key(*, label: str = "", existing_key: bool = False) -> Rotation:
    """A new seal key and certificate from our root; the old certificate stays trusted.

    Keys folder: the old seal key and certificate move to retired/ and the new ones are used
    at once by every process. PKCS#11 token: a new key is made in the token under `label`
    (a new label; the configured one on the first run), with its certificate; it is used once
    SIGNFLOW_SEAL_PKCS11_KEY_LABEL names it; `existing_key` certifies a key already in the
    token under `label` instead (imported with the vendor's tools). Documents sealed before
    stay verifiable: their seal certificate is in the file and chains to the same root.
    """
    if settings.SEAL_PKCS12_PATH:
        raise KeysError(
            "The seal certificate comes from SEAL_PKCS12_PATH: replace that file to rotate it."
        )
    directory = _keys_dir()
    token = hsm.configured()
    if existing_key and token is None:
        raise KeysError("An existing key is one in a PKCS#11 token (SIGNFLOW_SEAL_PKCS11_MODULE).")
    _ensure_generated(directory, seal=token is None)
    with _lock(directory):
        root_cert, root_key = _load_pair(directory, "root")
        if token is None:
            _retire(directory, "seal")
            _store(
                directory,
                {"seal": issue_leaf("seal", root_cert, root_key, crl_distribution_point=crl_url())},
            )
    clear_cache()
    if token is None:
        return Rotation(get_key_material().seal_cert, root_cert, "generated", active=True)
    target = token if label in ("", token.key_label) else token.with_label(label)
    return _rotate_token_key(target, root_cert, root_key, existing_key=existing_key)


def _rotate_token_key(
    token: hsm.TokenConfig, root_cert: x509.Certificate, root_key: Any, *, existing_key: bool
) -> Rotation:
    try:
        make = hsm.existing_public_key if existing_key else hsm.create_key
        public_key = make(token)
        cert = leaf_certificate(
            "seal", public_key, root_cert, root_key, crl_distribution_point=crl_url()
        )
        hsm.store_certificate(token, cert)
    except hsm.HsmError as exc:
        raise KeysError(str(exc)) from exc
    configured = hsm.configured()
    active = configured is not None and configured.key_label == token.key_label
    if active:
        keep_token_certificate(cert)  # verification's copy, before any seal reads the token
    return Rotation(cert, root_cert, "pkcs11", active=active, label=token.key_label)


def record_sealing_key(material: KeyMaterial) -> None:
    """Remember the seal certificate in use (one row per certificate), marked active."""
    record_certificate(
        material.seal_cert, root=material.seal_root, source=material.source, active=True
    )


def record_certificate(
    cert: x509.Certificate, *, root: x509.Certificate | None, source: str, active: bool
) -> None:
    """One SealingKey row per seal certificate; the active one is the certificate in use."""
    from verification.models import SealingKey  # noqa: PLC0415 - models import settings

    fp = fingerprint(cert)
    row = SealingKey.objects.filter(fingerprint_sha256=fp).first()
    if row is not None and (row.active or not active):
        return
    with transaction.atomic():
        if active:
            SealingKey.objects.filter(active=True).exclude(fingerprint_sha256=fp).update(
                active=False
            )
        if row is not None:
            SealingKey.objects.filter(pk=row.pk).update(active=True)
            return
        SealingKey.objects.get_or_create(
            fingerprint_sha256=fp,
            defaults={
                "source": source,
                "subject": cert.subject.rfc4514_string()[:300],
                "root_fingerprint_sha256": fingerprint(root) if root is not None else "",
                "not_after": cert.not_valid_after_utc,
                "active": active,
            },
        )
