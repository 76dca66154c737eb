"""A per-IP fixed-window limit on verification requests, kept in Django's cache."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites
    # REMOTE_ADDR for us (gunicorn behind the proxy does, with --forwarded-allow-ips).
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def allow(request: HttpRequest, *, scope: str = "verify") -> bool:
    """Count this request; False once the IP made more than the limit this minute."""
    limit = int(getattr(settings, "SIGNFLOW_VERIFY_RATE_PER_MINUTE", 30))
    window = int(time.time() // 60)
    key = f"sf-rl:{scope}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count <= limit
