"""A per-IP fixed-window limit on verification requests, kept in Django's cache."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from signflow.net import client_ip as signflow_client_ip


def client_ip(request: HttpRequest) -> str:
    # The same rule as the audit trail: REMOTE_ADDR, or what our own proxies saw when
    # SIGNFLOW_TRUSTED_PROXIES says how many stand in front of us.
    return signflow_client_ip(request) or "unknown"


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
