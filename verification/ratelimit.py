"""A per-IP fixed-window limit on verification requests, kept in Django's cache."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from signflow.net import client_ip as signflow_client_ip


def client_ip(request: HttpRequest) -> str:
    # The same rule as the audit trail: REMOTE_ADDR, or what our own proxies saw when
    # SIGNFLOW_TRUSTED_PROXIES says how many stand in front of us.
    return signflow_client_ip(request) or "unknown"


def count_in_window(name: str, *, seconds: int = 60) -> tuple[int, int]:
    """Count one more hit for `name` in the current fixed window of `seconds`.

    Returns (hits in this window, seconds until it ends). With the cache unreachable the count
    starts again at 1 (signflow.cache answers like a miss): a limit fails open, never closed.
    Also used by the REST API's per-key limit (api.ratelimit).
    """
    now = time.time()
    window = int(now // seconds)
    key = f"sf-rl:{name}:{window}"
    cache.add(key, 0, timeout=seconds * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds * 2)
        count = 1
    return count, max(1, math.ceil((window + 1) * seconds - now))


def allow(request: HttpRequest, *, scope: str = "verify") -> bool:
    """Count this request; False once the IP made more than the limit this minute."""
    limit = settings.SIGNFLOW_VERIFY_RATE_PER_MINUTE
    count, _left = count_in_window(f"{scope}:{client_ip(request)}")
    return count <= limit
