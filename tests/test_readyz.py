"""/readyz: database, Redis, storage and keys, each checked and timed; 503 naming what fails."""

import os
import time
from pathlib import Path

import pytest
import redis
from django.test import Client

# A loopback port of this test's own range where nothing listens: connections are refused.
CLOSED_PORT = 19150
LIVE_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/4"


def _get(client: Client) -> tuple[int, dict, str]:
    response = client.get("/readyz")
    return response.status_code, response.json(), response.content.decode()


def _redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(LIVE_REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.django_db
def test_ready_without_redis_configured(client: Client, settings) -> None:
    settings.REDIS_URL = ""
    status, body, _ = _get(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "storage", "keys"}
    assert body["checks"]["redis"]["status"] == "skipped"
    for name in ("database", "storage", "keys"):
        assert body["checks"][name]["status"] == "ok"
        assert isinstance(body["checks"][name]["ms"], float | int)
        assert body["checks"][name]["ms"] >= 0


@pytest.mark.django_db
@pytest.mark.skipif(not _redis_is_up(), reason="no Redis on loopback")
def test_ready_with_live_redis(client: Client, settings) -> None:
    settings.REDIS_URL = LIVE_REDIS_URL
    status, body, _ = _get(client)
    assert status == 200, body
    assert body["checks"]["redis"]["status"] == "ok"


@pytest.mark.django_db
def test_redis_down_is_503_naming_redis_quickly(client: Client, settings) -> None:
    settings.REDIS_URL = f"redis://:s3cret-pass@127.0.0.1:{CLOSED_PORT}/4"
    started = time.monotonic()
    status, body, text = _get(client)
    elapsed = time.monotonic() - started
    assert status == 503
    assert body["status"] == "fail"
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"
    assert elapsed < 2, elapsed
    assert "s3cret" not in text and str(CLOSED_PORT) not in text


@pytest.mark.django_db
def test_storage_unwritable_is_503_naming_storage(client: Client, settings, tmp_path: Path) -> None:
    # A regular file where a folder should be: cannot be written, even by root.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.REDIS_URL = ""
    settings.MEDIA_ROOT = str(blocker / "media")
    status, body, text = _get(client)
    assert status == 503, body
    assert body["failed"] == ["storage"]
    assert str(tmp_path) not in text


@pytest.mark.django_db
def test_storage_probe_leaves_nothing_behind(client: Client, settings, tmp_path: Path) -> None:
    settings.REDIS_URL = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    status, body, _ = _get(client)
    assert status == 200, body
    probe_dir = tmp_path / "media" / "readyz"
    assert not probe_dir.exists() or not any(probe_dir.iterdir())


@pytest.mark.django_db
def test_unreadable_keys_are_503_naming_keys(client: Client, settings, tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "root.pem").write_text("not a certificate")
    (keys_dir / "root.key").write_text("not a key")
    settings.REDIS_URL = ""
    settings.SIGNFLOW_KEYS_DIR = keys_dir
    status, body, text = _get(client)
    assert status == 503, body
    assert body["failed"] == ["keys"]
    assert str(tmp_path) not in text


@pytest.mark.django_db
def test_fresh_install_keys_are_not_generated_by_the_probe(
    client: Client, settings, tmp_path: Path
) -> None:
    settings.REDIS_URL = ""
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "keys"
    status, body, _ = _get(client)
    assert status == 200, body
    assert body["checks"]["keys"]["status"] == "ok"
    assert not (tmp_path / "keys").exists()


@pytest.mark.django_db
def test_readyz_is_exempt_from_the_https_redirect(client: Client, settings) -> None:
    settings.REDIS_URL = ""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/readyz").status_code == 200
    assert client.get("/login/").status_code == 301


@pytest.mark.django_db
def test_keys_of_another_secret_key_are_503_naming_keys(
    client: Client, settings, tmp_path: Path
) -> None:
    from verification import keys

    settings.REDIS_URL = ""
    settings.TSA_URL = ""
    settings.SEAL_PKCS12_PATH = ""
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "keys"
    keys.get_key_material()  # the first seal generates them
    status, body, _ = _get(client)
    assert status == 200, body
    assert body["checks"]["keys"]["status"] == "ok"
    # Restored from a backup with another SECRET_KEY: the private keys no longer decrypt.
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    status, body, text = _get(client)
    assert status == 503, body
    assert body["failed"] == ["keys"]
    assert "SECRET_KEY" not in text and str(tmp_path) not in text


@pytest.mark.django_db
def test_missing_seal_pkcs12_file_is_503_naming_keys(
    client: Client, settings, tmp_path: Path
) -> None:
    settings.REDIS_URL = ""
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "keys"
    settings.SEAL_PKCS12_PATH = str(tmp_path / "gone.p12")
    status, body, text = _get(client)
    assert status == 503, body
    assert body["failed"] == ["keys"]
    assert "gone.p12" not in text
    assert not (tmp_path / "keys").exists()
