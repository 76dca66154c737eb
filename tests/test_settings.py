"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="signflow.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_a_secret_key_stops_with_a_clear_message():
    result = _start(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_malformed_boolean_is_refused_loudly():
    result = _start(DEBUG="maybe", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_development_starts_without_a_secret_key():
    result = _start(DEBUG="1", SIGNFLOW_VAR_DIR=str(ROOT / "var"))
    assert result.returncode == 0, result.stderr


def test_the_dev_outbox_in_production_stops_even_the_deploy_check():
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="signflow.settings",
        DEBUG="0",
        SECRET_KEY="s" * 60,
        SIGNFLOW_DEV_OUTBOX="1",
        SIGNFLOW_VAR_DIR=str(ROOT / "var"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    # Refused when the settings load (see tests/security/test_startup_refusals.py).
    assert "SIGNFLOW_DEV_OUTBOX is on while DEBUG is off" in result.stderr
