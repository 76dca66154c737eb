"""Django's cache on Redis, degrading to "miss" when Redis cannot be reached.

The cache only makes pages faster (the board's counts) and rate-limits (verification requests):
nothing in it is the only copy of anything. So a Redis outage must not turn pages into errors.
Every call gives up after a short timeout, logs a warning and answers as if the key were absent;
after a failure, Redis is left alone for a few seconds so that each request does not pay the
timeout again. Task dispatch has its own answer to a broker outage (the outbox sweep).

Imported by settings: nothing here may read django.conf.settings at import time.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Redis on the same network answers in well under a millisecond: a fifth of a second to connect
# and half a second per command are plenty, and short enough for a page to feel no outage.
CONNECT_TIMEOUT_SECONDS = 0.2
COMMAND_TIMEOUT_SECONDS = 0.5
# How long to answer "miss" without trying Redis after it failed.
RETRY_AFTER_SECONDS = 5.0


def caches_for(redis_url: str) -> dict[str, Any]:
    """The default cache: Redis (degrading) when REDIS_URL is set, else in-process memory."""
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "signflow.cache.ResilientRedisCache",
        "LOCATION": redis_url,
        "OPTIONS": {
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        },
    }


class _Outage:
    """When Redis last failed, shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self._until

    def start(self, error: Exception) -> None:
        with self._lock:
            first = not self.active()
            self._until = time.monotonic() + RETRY_AFTER_SECONDS
        if first:
            logger.warning(
                "Redis cache unreachable (%s): answering as a cache miss for %.0f s",
                error,
                RETRY_AFTER_SECONDS,
            )


class ResilientRedisCache(RedisCache):
    """RedisCache whose every call answers like a miss while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._outage = _Outage()

    def _guard(self, default: T, call: Callable[[], T]) -> T:
        if self._outage.active():
            return default
        try:
            return call()
        except RedisError as error:  # ConnectionError, TimeoutError, BusyLoadingError...
            self._outage.start(error)
            return default

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._guard(
            False, lambda: super(ResilientRedisCache, self).add(key, value, timeout, version)
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guard(
            default, lambda: super(ResilientRedisCache, self).get(key, default, version)
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guard(
            None, lambda: super(ResilientRedisCache, self).set(key, value, timeout, version)
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guard(
            False, lambda: super(ResilientRedisCache, self).touch(key, timeout, version)
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guard(False, lambda: super(ResilientRedisCache, self).delete(key, version))

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._guard({}, lambda: super(ResilientRedisCache, self).get_many(keys, version))

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guard(False, lambda: super(ResilientRedisCache, self).has_key(key, version))

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        result = self._guard(
            None, lambda: super(ResilientRedisCache, self).incr(key, delta, version)
        )
        if result is None:
            # As for a key that is not there: callers already handle it (add, then incr).
            raise ValueError(f"Key '{key}' not found (Redis cache unreachable)")
        return result

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return self._guard(
            list(data), lambda: super(ResilientRedisCache, self).set_many(data, timeout, version)
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._guard(None, lambda: super(ResilientRedisCache, self).delete_many(keys, version))

    def clear(self) -> None:
        self._guard(None, lambda: super(ResilientRedisCache, self).clear())
