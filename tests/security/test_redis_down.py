"""Redis unreachable: every page still answers (the cache answers "miss"), only task dispatch
waits for the outbox sweep. Redis here is a closed loopback port."""

import logging
import time

import pytest
from django.core.cache import cache
from django.test import Client

from signflow.cache import ResilientRedisCache, caches_for
from tests.security.conftest import World, blank_pdf

DOWN = "redis://127.0.0.1:18699/0"  # nothing listens there


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {"default": caches_for(DOWN)}
    yield
    cache.close()


def test_the_settings_use_the_degrading_cache_when_redis_is_configured() -> None:
    assert caches_for(DOWN)["BACKEND"] == "signflow.cache.ResilientRedisCache"
    assert caches_for("")["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_the_cache_answers_miss_and_logs_once(redis_down, caplog) -> None:
    from django.core.cache import caches

    backend = caches["default"]
    assert isinstance(backend, ResilientRedisCache)
    with caplog.at_level(logging.WARNING, logger="signflow.cache"):
        started = time.monotonic()
        assert backend.get("k", "default") == "default"
        assert backend.add("k", 0) is False
        backend.set("k", 1)
        with pytest.raises(ValueError):
            backend.incr("k")
        assert backend.get_many(["a", "b"]) == {}
        elapsed = time.monotonic() - started
    assert elapsed < 2, elapsed  # one short connect timeout, then no retry for a while
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


def test_login_works(redis_down, sender) -> None:
    client = Client()
    response = client.post(
        "/login/", {"username": sender.username, "password": "pass-sophie.bernard"}
    )
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200  # the board


def test_the_board_works(redis_down, sender_client: Client, world: World) -> None:
    response = sender_client.get("/")
    assert response.status_code == 302
    assert sender_client.get(response["Location"]).status_code == 200


def test_public_verification_works(redis_down, db) -> None:
    client = Client()
    for _ in range(3):
        response = client.post("/api/verify", {"file": _pdf()})
        assert response.status_code < 500, response.content[:300]
        assert response.json()["verdict"] == "unknown"
    assert client.get("/verify/").status_code == 200


def test_the_signer_page_works(redis_down, world: World) -> None:
    response = Client().get(f"/s/{world.token}/")
    assert response.status_code == 200


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("x.pdf", blank_pdf(), "application/pdf")
