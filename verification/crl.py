"""Our CA's revocation data: a CRL signed by the SignFlow root, published at a stable URL.

The seal and TSA certificates name ``{SIGNFLOW_BASE_URL}/verify/crl/root.crl`` in their CRL
distribution points. The same CRL is embedded in every sealed PDF's DSS (PAdES B-LTA), so
the file can be checked offline, with revocation checking forced, long after the certificates
expire. The CRL is regenerated when it is a day old and is valid for a week; revoked serial
numbers are kept in ``crl/revoked.json`` next to it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from verification import keys

REFRESH_AFTER = dt.timedelta(days=1)
VALID_FOR = dt.timedelta(days=7)
# pyHanko compares the CRL's dates with the signing time: issue it a little in the past so
# a seal made in the same second still finds it current.
BACKDATE = dt.timedelta(minutes=1)

_lock = threading.Lock()


def _crl_dir() -> Path:
    return Path(settings.SIGNFLOW_KEYS_DIR) / "crl"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _revoked() -> dict[str, str]:
    """serial (decimal string) -> revocation time (ISO 8601)."""
    path = _crl_dir() / "revoked.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def build_crl(material: keys.KeyMaterial) -> x509.CertificateRevocationList:
    """A fresh CRL of our root listing every revoked serial number."""
    if material.root_key is None:
        raise keys.KeysError("The root key is not loaded: cannot sign a CRL.")
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(material.root_cert.subject)
        .last_update(now - BACKDATE)
        .next_update(now + VALID_FOR)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(material.root_key.public_key()),
            critical=False,
        )
    )
    for serial, when in sorted(_revoked().items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial))
            .revocation_date(dt.datetime.fromisoformat(when))
            .build()
        )
    return builder.sign(material.root_key, hashes.SHA256())


def _usable(crl: x509.CertificateRevocationList, material: keys.KeyMaterial) -> bool:
    now = dt.datetime.now(dt.UTC)
    next_update = crl.next_update_utc
    issuer_key = material.root_cert.public_key()
    signing_key = (
        rsa.RSAPublicKey,
        ec.EllipticCurvePublicKey,
        ed25519.Ed25519PublicKey,
        ed448.Ed448PublicKey,
    )
    if not isinstance(issuer_key, signing_key):  # our root is RSA (verification.keys)
        return False
    return (
        crl.issuer == material.root_cert.subject
        and crl.is_signature_valid(issuer_key)
        and crl.last_update_utc <= now
        and now - crl.last_update_utc < REFRESH_AFTER
        and next_update is not None
        and next_update > now
    )


def current_crl(material: keys.KeyMaterial | None = None) -> x509.CertificateRevocationList:
    """The published CRL, regenerated when it is a day old (or missing, or not ours)."""
    material = material or keys.verification_material()
    path = _crl_dir() / "root.crl"
    with _lock:
        if path.exists():
            try:
                crl = x509.load_der_x509_crl(path.read_bytes())
                if _usable(crl, material):
                    return crl
            except ValueError:
                pass
        crl = build_crl(material)
        _write(path, crl.public_bytes(serialization.Encoding.DER))
        return crl


def revoke(cert: x509.Certificate, when: dt.datetime | None = None) -> None:
    """List a certificate of ours as revoked from `when` (default now) and reissue the CRL."""
    entries = _revoked()
    entries[str(cert.serial_number)] = (when or dt.datetime.now(dt.UTC)).isoformat()
    _write(_crl_dir() / "revoked.json", json.dumps(entries, indent=2).encode())
    (_crl_dir() / "root.crl").unlink(missing_ok=True)
    current_crl()


def to_asn1_crl(crl: x509.CertificateRevocationList) -> object:
    from asn1crypto import crl as asn1_crl

    return asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))


@require_GET
def crl_view(_request: HttpRequest) -> HttpResponse:
    """GET /verify/crl/root.crl: the DER CRL named in our certificates (public, cacheable)."""
    crl = current_crl()
    response = HttpResponse(
        crl.public_bytes(serialization.Encoding.DER), content_type="application/pkix-crl"
    )
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Disposition"] = 'inline; filename="root.crl"'
    return response
