"""Magic-link tokens and one-time codes. The database keeps only their hashes.

A link token is HMAC-SHA256(SECRET_KEY, "link:<party id>:<nonce>"), 32 bytes that nobody can
guess without the secret key. The database stores the random nonce and the token's SHA-256:
reading the database does not give the links, while reminders can rebuild the same link.
Rotating SECRET_KEY kills every outstanding link (reissue them from the envelope page).
"""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings


def new_nonce() -> str:
    return secrets.token_hex(16)


def token_for(*, party_id: int, nonce: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"link:{party_id}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_otp(*, party_id: int, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"otp:{party_id}:{code}".encode(), hashlib.sha256).hexdigest()


def otp_matches(*, party_id: int, code: str, stored: str) -> bool:
    return bool(stored) and hmac.compare_digest(hash_otp(party_id=party_id, code=code), stored)
