"""A real S3 API on loopback (moto in server mode, another process), and SignFlow's storage
pointed at a fresh private bucket of it, with MEDIA_ROOT a folder that must stay empty."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.conf import settings as django_settings

from signflow.storage import default_storage_setting
from tests.signing.conftest import invoice  # noqa: F401  (fixture)

# Ports of this suite's range; moto servers take the first free ones.
PORTS = range(18400, 18450)
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "signflow-test", "AWS_SECRET_ACCESS_KEY": "signflow-secret"}


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"every port of {PORTS.start}-{PORTS.stop - 1} is in use")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our loopback server
            return True
    except OSError as exc:
        return getattr(exc, "code", None) is not None  # an HTTP error is an answer


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_moto(**env: str) -> MotoServer:
    """`moto_server` on the first free port of the range (retrying if another process takes
    it first); no network: it only listens on 127.0.0.1."""
    for _attempt in range(5):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = MotoServer(process=process, port=port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(server.url + "/moto-api/"):
                return server
            time.sleep(0.2)
        stop(server)
    raise RuntimeError("moto_server did not start")


def stop(server: MotoServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    stop(server)


@pytest.fixture(scope="session")
def forbidden() -> Iterator[MotoServer]:
    """An S3 API that checks credentials, and knows none: every request gets 403."""
    server = start_moto(INITIAL_NO_AUTH_ACTION_COUNT="0")
    yield server
    stop(server)


@dataclass
class Bucket:
    """A bucket of the moto server, and the environment a SignFlow node uses to reach it."""

    name: str
    server: MotoServer
    env: dict[str, str] = field(default_factory=dict)

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.server.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def object_names(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=self.name, Key=key)["Body"].read()
        return body


def s3_env(server: MotoServer, bucket: str, **overrides: str) -> dict[str, str]:
    """What a deployment sets (README, Storage): SIGNFLOW_STORAGE=s3 and the AWS_* names."""
    return {
        "SIGNFLOW_STORAGE": "s3",
        "AWS_S3_ENDPOINT_URL": server.url,
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_REGION_NAME": REGION,
        **CREDENTIALS,
        **overrides,
    }


def use_s3(settings: Any, env: dict[str, str]) -> None:
    """This process's default storage as settings.py builds it from `env`."""
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": default_storage_setting(env),
    }


@pytest.fixture
def s3(moto: MotoServer, settings: Any) -> Bucket:
    """A new private bucket, and the default storage on it."""
    bucket = Bucket(name=f"signflow-{uuid.uuid4().hex[:12]}", server=moto)
    bucket.client().create_bucket(Bucket=bucket.name)
    bucket.env = s3_env(moto, bucket.name)
    use_s3(settings, bucket.env)
    return bucket


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """MEDIA_ROOT of this process: nothing may be written there when the storage is S3."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Keys are not files of the storage: a folder of their own, outside MEDIA_ROOT.
    return tmp_path_factory.mktemp("storage-keys") / "keys"


@pytest.fixture(autouse=True)
def isolated_keys(settings: Any, keys_dir: Path) -> None:
    settings.SIGNFLOW_KEYS_DIR = keys_dir
    settings.TSA_URL = ""
    settings.SEAL_PKCS12_PATH = ""


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
