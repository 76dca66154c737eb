import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_safe

from signflow import storage

logger = logging.getLogger(__name__)

# A dependency on the same network answers in milliseconds: a readiness probe that waits longer
# than this for Redis would itself time out at the load balancer.
READYZ_REDIS_TIMEOUT_SECONDS = 0.5


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("signing:board")
    return redirect("login")


FAVICON_PATH = Path(settings.BASE_DIR) / "static" / "favicon.ico"


@require_safe
def favicon(_request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers and feed readers ask for whatever the page links: the icon,
    not a 15 KB "not found" page. Pages link the SVG (templates/base.html)."""
    response = HttpResponse(FAVICON_PATH.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def healthz(_request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class _Skipped(Exception):
    """The dependency is not configured here (no REDIS_URL): nothing to check."""


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("unexpected answer")


def _check_redis() -> None:
    if not settings.REDIS_URL:
        raise _Skipped
    import redis  # noqa: PLC0415 - only needed when Redis is configured

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=READYZ_REDIS_TIMEOUT_SECONDS,
        socket_timeout=READYZ_REDIS_TIMEOUT_SECONDS,
        retry_on_timeout=False,
    )
    try:
        if not client.ping():
            raise RuntimeError("no PONG")
    finally:
        client.close()


def _check_storage() -> None:
    """Write, read back and delete a small file where documents are stored."""
    storage.probe()


def _check_keys() -> None:
    """The sealing keys load (or the PKCS#11 token answers); nothing is generated here."""
    from verification import keys  # noqa: PLC0415 - verification imports signflow

    keys.check_reachable()


READYZ_CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "redis": _check_redis,
    "storage": _check_storage,
    "keys": _check_keys,
}


def readyz(_request: HttpRequest) -> JsonResponse:
    """Whether this process can serve: database, Redis, storage and keys, each timed.

    The body names each check and its duration, never an error message (they can carry paths
    or URLs with passwords): the logs have the details. An error with a `public_reason` (a
    PKCS#11 token away: verification.hsm.HsmError) adds that sentence, which has neither.
    """
    checks: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for name, check in READYZ_CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except _Skipped:
            status = "skipped"
        except Exception as exc:
            # An expected outage (a token away) says why in one line; anything else in full.
            reason = getattr(exc, "public_reason", "")
            logger.warning("readyz: the %s check failed: %s", name, exc, exc_info=not reason)
            status = "fail"
            failed.append(name)
        else:
            status, reason = "ok", ""
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        checks[name] = {"status": status, "ms": elapsed_ms}
        if reason:
            checks[name]["reason"] = reason
    if failed:
        return JsonResponse({"status": "fail", "failed": failed, "checks": checks}, status=503)
    return JsonResponse({"status": "ok", "checks": checks})
