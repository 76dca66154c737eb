"""Production settings: HTTPS-only cookies, HSTS and redirects when the base URL is https, and
the development outbox off."""

import os
import subprocess
import sys
from pathlib import Path

from django.test import Client

ROOT = Path(__file__).resolve().parent.parent.parent


def _deploy_check(**env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "SIGNFLOW_BASE_URL",
            # Set by the browser tests (Playwright) in this process: not part of a deployment.
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="signflow.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_a_production_https_deployment_passes_the_deploy_check() -> None:
    output = _deploy_check(
        SECRET_KEY="k" * 20 + "-production-like-secret-key-0123456789-abcdefghij",
        DEBUG="0",
        SIGNFLOW_BASE_URL="https://sign.example.com",
        ALLOWED_HOSTS="sign.example.com",
    )
    # Only the HSTS preload list is left to the operator (it cannot be undone quickly).
    for warning in ("W004", "W005", "W006", "W008", "W009", "W012", "W016", "W018", "W019"):
        assert warning not in output, output


def test_the_dev_outbox_is_not_found_when_it_is_off(settings, db) -> None:
    settings.SIGNFLOW_DEV_OUTBOX = False
    assert Client().get("/dev/outbox/").status_code == 404


def test_the_health_probe_is_never_redirected_to_https(settings, db) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/login/").status_code == 301
