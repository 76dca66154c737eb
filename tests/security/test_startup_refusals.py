"""Production refuses to start with the development outbox on: not only `check --deploy`, but
`manage.py check`, `migrate` and the WSGI application that gunicorn loads."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MESSAGE = "SIGNFLOW_DEV_OUTBOX is on while DEBUG is off"


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "SIGNFLOW_DEV_OUTBOX",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "DATABASE_URL",
        }
    }
    clean.update(
        env,
        DJANGO_SETTINGS_MODULE="signflow.settings",
        SECRET_KEY="s" * 60,
        SIGNFLOW_VAR_DIR=str(tmp_path / "var"),
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_manage_py_refuses_the_dev_outbox_without_debug(tmp_path: Path) -> None:
    for command in (["check"], ["migrate", "--noinput"]):
        result = _run(["manage.py", *command], tmp_path, DEBUG="0", SIGNFLOW_DEV_OUTBOX="1")
        assert result.returncode != 0
        assert MESSAGE in result.stderr
    assert not (tmp_path / "var" / "signflow.sqlite3").exists()  # migrate never ran


def test_the_wsgi_application_refuses_it_too(tmp_path: Path) -> None:
    result = _run(["-c", "import signflow.wsgi"], tmp_path, DEBUG="0", SIGNFLOW_DEV_OUTBOX="1")
    assert result.returncode != 0
    assert MESSAGE in result.stderr


def test_development_keeps_its_outbox(tmp_path: Path) -> None:
    result = _run(["manage.py", "check"], tmp_path, DEBUG="1", SIGNFLOW_DEV_OUTBOX="1")
    assert result.returncode == 0, result.stderr


def test_production_without_the_outbox_starts(tmp_path: Path) -> None:
    result = _run(["manage.py", "check"], tmp_path, DEBUG="0")
    assert result.returncode == 0, result.stderr
