"""SQLite in development: parallel requests wait for the write lock instead of failing with
"database is locked" (WAL journal, IMMEDIATE transactions, a busy timeout).

A real threaded server (runserver) on a file database, hit by parallel logins: each one writes
the session, the user's last login and the login throttle's rows."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PORT = 18601
USERS = 12


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="signflow.settings",
        DEBUG="1",
        SIGNFLOW_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'parallel.sqlite3'}",
        SIGNFLOW_LOGIN_MAX_FAILURES="1000",
    )
    return env


def _manage(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args, "-v", "0"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("runserver did not start")


def _login(username: str, password: str) -> int:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{PORT}"
    opener.open(f"{base}/login/", timeout=60).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    url = f"{base}/login/"  # plain http to our own loopback server only
    request = urllib.request.Request(url, data=data, headers={"Referer": base})  # noqa: S310
    try:
        with opener.open(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("sqlite-wal")
    _manage(tmp_path, "migrate", "--noinput")
    _manage(
        tmp_path,
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        f"for i in range({USERS}): User.objects.create_user(f'user{{i}}', password='pw-secret-1')",
    )
    return tmp_path


@pytest.fixture
def server(database: Path):
    tmp_path = database
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{PORT}"],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(PORT)
        yield tmp_path / "server.log"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_the_development_database_uses_wal(database: Path) -> None:
    out = _manage(
        database,
        "shell",
        "-c",
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0],"
        " c.execute('PRAGMA busy_timeout').fetchone()[0])",
    )
    assert out.strip().splitlines()[-1].split() == ["wal", "20000"]


def test_parallel_logins_never_find_the_database_locked(server: Path) -> None:
    attempts = [(f"user{i % USERS}", "pw-secret-1" if i % 2 else "wrong") for i in range(48)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda a: _login(*a), attempts))
    log = server.read_text()
    assert "database is locked" not in log, log[-3000:]
    assert all(status in (200, 302) for status in statuses), statuses
