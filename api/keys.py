"""API keys: create (shown once), revoke, authenticate, record their use.

A key reads `sf_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is
compared in constant time. Each change writes its ApiKeyEvent in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import ApiKey, ApiKeyEvent
from crm.access import employee_of
from signflow.errors import NotAllowed, SignFlowError
from signflow.text import clean_text

KEY_START = "sf_"
# Reads refresh `last_used_at` (and leave a `used` event) at most this often per key, so a
# client polling every second does not write a row per request; every POST is recorded.
USE_RECORD_INTERVAL = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_create(
    *, owner: User, name: str, scopes: list[str], ip: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for an employee; returns the row and the key itself (never stored)."""
    if employee_of(owner) is None or not owner.is_active:
        raise NotAllowed(message=_("Only an employee can create API keys."))
    name = clean_text(name or "").strip()[:100]
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Give the key a name.")]
    chosen = [scope for scope in ApiKey.Scope.values if scope in set(scopes)]
    if not chosen or len(chosen) != len(set(scopes)):
        errors["scopes"] = [_("Choose at least one scope among read, send and templates.")]
    if errors:
        raise SignFlowError("invalid", _("Check the name and the scopes."), fields=errors)
    prefix = secrets.token_hex(4)
    token = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            owner=owner, name=name, prefix=prefix, key_hash=_hash(token), scopes=chosen
        )
        ApiKeyEvent.objects.create(key=key, kind=ApiKeyEvent.Kind.CREATED, actor=owner, ip=ip)
    return key, token


def key_revoke(*, key: ApiKey, actor: User, ip: str | None = None) -> ApiKey:
    with transaction.atomic():
        # Locked: two clicks on "revoke" record one revocation.
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            ApiKeyEvent.objects.create(key=key, kind=ApiKeyEvent.Kind.REVOKED, actor=actor, ip=ip)
    return key


def key_for_token(token: str) -> ApiKey | None:
    """The active key this token is, whose owner is an active user; else None."""
    if not token.startswith(KEY_START) or len(token) > 100:
        return None
    prefix, _sep, secret = token[len(KEY_START) :].partition("_")
    if not prefix or not secret:
        return None
    key = (
        ApiKey.objects.select_related("owner", "owner__employee")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash(token)):
        return None
    if not key.owner.is_active:
        return None
    return key


def key_used(
    *, key: ApiKey, method: str, path: str, status_code: int, ip: str | None, write: bool
) -> None:
    """Refresh last_used_at and leave a `used` event: every write, reads once a minute."""
    now = timezone.now()
    fresh = key.last_used_at is not None and now - key.last_used_at < USE_RECORD_INTERVAL
    if fresh and not write:
        return
    with transaction.atomic():
        # Only the request that moves last_used_at past the interval records a read.
        moved = (
            ApiKey.objects.filter(pk=key.pk)
            .exclude(last_used_at__gt=now - USE_RECORD_INTERVAL)
            .update(last_used_at=now)
        )
        if not moved and write:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        if moved or write:
            ApiKeyEvent.objects.create(
                key=key,
                kind=ApiKeyEvent.Kind.USED,
                ip=ip,
                method=method[:10],
                path=path[:300],
                status_code=status_code,
            )
    key.last_used_at = now
