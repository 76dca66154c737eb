"""The seal key in a PKCS#11 token: a hardware security module, a cloud HSM or SoftHSM2.

pyHanko signs through the token (pyhanko.sign.pkcs11): the private key never leaves it. Its
certificate, issued by our root CA, is stored in the token next to it (label
SIGNFLOW_SEAL_PKCS11_CERT_LABEL, by default the key's label): `manage.py rotate_seal_key`
creates both (verification.keys.provision_token_key).

PKCS#11 logs a user in per application, not per session, and a session runs one operation at
a time: each process keeps one logged-in session, opened on first use and used under a lock. A
session that fails is closed and the next use opens a new one (an HSM restarted, a token put
back); a forked child (a Celery prefork worker) initialises the module again first.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

DEFAULT_KEY_LABEL = "signflow-seal"
KEY_BITS = 3072


@dataclass(frozen=True)
class TokenConfig:
    module: str  # the PKCS#11 library (.so) of the token's vendor
    token_label: str
    key_label: str
    cert_label: str
    pin: str = field(repr=False)

    def with_label(self, label: str) -> TokenConfig:
        """The same token, another key (and certificate) label: a rotation's new key."""
        return TokenConfig(self.module, self.token_label, label, label, self.pin)


class HsmError(Exception):
    """The token cannot be used; the message says why and never carries the PIN.

    `public_reason` says it without paths or labels (for /readyz's body).
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.public_reason = f"PKCS#11 token: {reason or 'the token cannot be used'}"


def configured() -> TokenConfig | None:
    """The seal key's token from the settings, or None when the seal key is in files."""
    module = settings.SIGNFLOW_SEAL_PKCS11_MODULE
    if not module:
        return None
    key_label = settings.SIGNFLOW_SEAL_PKCS11_KEY_LABEL or DEFAULT_KEY_LABEL
    return TokenConfig(
        module=module,
        token_label=settings.SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL,
        key_label=key_label,
        cert_label=settings.SIGNFLOW_SEAL_PKCS11_CERT_LABEL or key_label,
        pin=settings.SIGNFLOW_SEAL_PKCS11_PIN,
    )


_PIN_REFUSED = "the token refused the PIN (SIGNFLOW_SEAL_PKCS11_PIN)"
_REASONS = {
    "PinIncorrect": _PIN_REFUSED,
    "PinInvalid": _PIN_REFUSED,
    "PinLenRange": _PIN_REFUSED,
    "PinLocked": "the PIN is locked after too many wrong PINs: the token's officer must unlock it",
    "PinExpired": "the PIN has expired",
    "NoSuchToken": "no token has this label (SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL)",
    "MultipleTokensReturned": "several tokens have this label",
    "TokenNotPresent": "the token is not present",
    "TokenNotRecognised": "the module does not recognise the token",
    "DeviceRemoved": "the token was removed",
    "DeviceError": "the token reported a device error",
    "DeviceMemory": "the token is out of memory",
    "SessionClosed": "the session with the token was closed",
    "SessionHandleInvalid": "the session with the token was lost",
    "UserNotLoggedIn": "no user is logged in (is SIGNFLOW_SEAL_PKCS11_PIN set?)",
    "NoSuchKey": "the token has no private key with this label (SIGNFLOW_SEAL_PKCS11_KEY_LABEL)",
    "MultipleObjectsReturned": "the token has several keys with this label",
}


def explain(exc: Exception, config: TokenConfig) -> HsmError:
    """A PKCS#11 exception (most carry no message) as a sentence for the administrator."""
    reason = _REASONS.get(type(exc).__name__) or f"{type(exc).__name__} {exc}".strip()
    return HsmError(
        f"PKCS#11 token {config.token_label!r} (module {config.module}, key "
        f"{config.key_label!r}): {reason}.",
        reason if type(exc).__name__ in _REASONS else "",
    )


_lock = threading.RLock()
_state: dict[str, Any] = {"session": None, "config": None, "pid": None}
_initialised_in: dict[str, int] = {}  # module -> the process that called C_Initialize


def _library(module: str) -> Any:
    import pkcs11  # noqa: PLC0415 - only when a token is configured

    try:
        lib = pkcs11.lib(module)
        if _initialised_in.setdefault(module, os.getpid()) != os.getpid():
            # A forked child inherits the parent's initialised module: PKCS#11 wants it
            # initialised again in the child before any call.
            lib.reinitialize()
            _initialised_in[module] = os.getpid()
    except pkcs11.PKCS11Error as exc:
        raise HsmError(
            f"Cannot load the PKCS#11 module {module}: {exc}", "the module cannot be loaded"
        ) from exc
    return lib


def _open(config: TokenConfig, *, rw: bool = False) -> Any:
    import pkcs11  # noqa: PLC0415 - only when a token is configured

    if not config.token_label:
        raise HsmError("SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL is not set: name the seal key's token.")
    lib = _library(config.module)
    try:
        token = lib.get_token(token_label=config.token_label)
    except pkcs11.NoSuchToken:
        # A token made after the module was initialised (SoftHSM2 reads its tokens then):
        # no session of ours is open here (see reset), so initialising again is safe.
        lib.reinitialize()
        token = lib.get_token(token_label=config.token_label)
    return token.open(rw=rw, user_pin=config.pin or None)


def reset() -> None:
    """Close this process's session (the next use opens a new one)."""
    with _lock:
        session, pid = _state["session"], _state["pid"]
        _state.update(session=None, config=None, pid=None)
        if session is not None and pid == os.getpid():
            with contextlib.suppress(Exception):  # a lost session has nothing left to close
                session.close()


@contextmanager
def session(config: TokenConfig) -> Iterator[Any]:
    """This process's logged-in session, held under the lock; a token error closes it."""
    import pkcs11  # noqa: PLC0415 - only when a token is configured

    with _lock:
        try:
            if _state["session"] is None or (_state["config"], _state["pid"]) != (
                config,
                os.getpid(),
            ):
                reset()
                _state.update(session=_open(config), config=config, pid=os.getpid())
            yield _state["session"]
        except pkcs11.PKCS11Error as exc:
            reset()
            raise explain(exc, config) from exc


@contextmanager
def admin_session(config: TokenConfig) -> Iterator[Any]:
    """A read-write session of its own (to create keys and certificates), closed after use."""
    import pkcs11  # noqa: PLC0415 - only when a token is configured

    with _lock:
        reset()  # the user is logged in once per application: the shared session goes first
        try:
            handle = _open(config, rw=True)
            try:
                yield handle
            finally:
                handle.close()
        except pkcs11.PKCS11Error as exc:
            raise explain(exc, config) from exc


def _objects(handle: Any, object_class: Any, label: str) -> list[Any]:
    from pkcs11 import Attribute  # noqa: PLC0415 - only when a token is configured

    return list(handle.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))


def _private_key(handle: Any, config: TokenConfig) -> Any:
    from pkcs11 import ObjectClass  # noqa: PLC0415 - only when a token is configured

    return handle.get_key(object_class=ObjectClass.PRIVATE_KEY, label=config.key_label)


def load_certificate(config: TokenConfig) -> x509.Certificate:
    """The seal certificate stored in the token (and a check that its private key is there)."""
    from pkcs11 import Attribute, ObjectClass  # noqa: PLC0415 - only when a token is configured

    with session(config) as handle:
        found = _objects(handle, ObjectClass.CERTIFICATE, config.cert_label)
        _private_key(handle, config)
    if len(found) != 1:
        raise HsmError(
            f"PKCS#11 token {config.token_label!r}: {len(found)} certificates labelled "
            f"{config.cert_label!r} (one expected). Run `manage.py rotate_seal_key --label "
            f"{config.key_label}` to create the seal key and its certificate in the token."
        )
    return x509.load_der_x509_certificate(bytes(found[0][Attribute.VALUE]))


def check(config: TokenConfig) -> None:
    """The session opens and the seal key is there (once more with a new session if not)."""
    for attempt in (1, 2):
        try:
            with session(config) as handle:
                _private_key(handle, config)
            return
        except HsmError:
            if attempt == 2:
                raise


@functools.lru_cache(maxsize=1)
def _signer_class() -> type:
    from pkcs11 import PKCS11Error  # noqa: PLC0415 - only when a token is configured
    from pyhanko.sign.pkcs11 import PKCS11Signer  # noqa: PLC0415 - costly import

    class TokenSigner(PKCS11Signer):
        """pyHanko's PKCS#11 signer, one signature at a time per process."""

        token_config: TokenConfig

        async def async_sign_raw(
            self, data: bytes, digest_algorithm: str, dry_run: bool = False
        ) -> bytes:
            if dry_run:
                return bytes(await super().async_sign_raw(data, digest_algorithm, dry_run=True))
            with _lock:
                try:
                    return bytes(await super().async_sign_raw(data, digest_algorithm))
                except PKCS11Error as exc:
                    reset()
                    raise explain(exc, self.token_config) from exc

    return TokenSigner


def signer(config: TokenConfig, *, signing_cert: Any, other_certs: list[Any]) -> Any:
    """A pyHanko signer using the token's key; certificates are asn1crypto objects."""
    with session(config) as handle:
        token_signer = _signer_class()(
            pkcs11_session=handle,
            key_label=config.key_label,
            signing_cert=signing_cert,
            ca_chain=other_certs,
        )
        token_signer.token_config = config
        # Finds the key now, under the lock: signing then runs no search on the session.
        _ = token_signer.signing_cert
    return token_signer


def create_key(config: TokenConfig) -> rsa.RSAPublicKey:
    """A new RSA key pair in the token under config.key_label; its private half never leaves."""
    from pkcs11 import Attribute, KeyType, ObjectClass  # noqa: PLC0415 - token only

    with admin_session(config) as handle:
        if _objects(handle, ObjectClass.PRIVATE_KEY, config.key_label):
            raise HsmError(
                f"PKCS#11 token {config.token_label!r} already has a key labelled "
                f"{config.key_label!r}: choose a new label."
            )
        public, _private = handle.generate_keypair(
            KeyType.RSA,
            KEY_BITS,
            label=config.key_label,
            id=os.urandom(16),
            store=True,
            public_template={Attribute.VERIFY: True},
            private_template={
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            },
        )
        numbers = rsa.RSAPublicNumbers(
            e=int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
            n=int.from_bytes(public[Attribute.MODULUS], "big"),
        )
    return numbers.public_key()


def existing_public_key(config: TokenConfig) -> rsa.RSAPublicKey:
    """The public half of a key already in the token (imported with the HSM vendor's tools)."""
    from pkcs11 import Attribute, ObjectClass  # noqa: PLC0415 - token only

    with admin_session(config) as handle:
        _private_key(handle, config)
        found = _objects(handle, ObjectClass.PUBLIC_KEY, config.key_label)
        if len(found) != 1:
            raise HsmError(
                f"PKCS#11 token {config.token_label!r}: {len(found)} public keys labelled "
                f"{config.key_label!r} (one expected): import the public key with the private "
                "one, or let rotate_seal_key create the key."
            )
        numbers = rsa.RSAPublicNumbers(
            e=int.from_bytes(found[0][Attribute.PUBLIC_EXPONENT], "big"),
            n=int.from_bytes(found[0][Attribute.MODULUS], "big"),
        )
    return numbers.public_key()


def store_certificate(config: TokenConfig, cert: x509.Certificate) -> None:
    """Keep the key's certificate in the token, with the key's ID (as PKCS#11 tools expect)."""
    from pkcs11 import Attribute, CertificateType, ObjectClass  # noqa: PLC0415 - token only

    with admin_session(config) as handle:
        key_id = _private_key(handle, config)[Attribute.ID]
        handle.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.LABEL: config.cert_label,
                Attribute.ID: key_id,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.ISSUER: cert.issuer.public_bytes(),
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )
