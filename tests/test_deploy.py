"""docker-compose.yml describes the deployment; no Docker engine runs here, so check that every
service is there and that every command points at modules and settings that exist."""

import importlib
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service():
    services = _compose()["services"]
    assert set(services) >= {"web", "worker", "beat", "postgres", "redis"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def _targets(command: str) -> list[str]:
    """Module paths named by gunicorn (`pkg.mod:app`) and celery (`-A pkg`) in a command."""
    found = re.findall(r"([A-Za-z_][\w.]*):([A-Za-z_]\w*)", command)
    words = shlex.split(command.replace("sh -c", ""))
    apps = [words[i + 1] for i, word in enumerate(words) if word in {"-A", "--app"}]
    return [f"{module}:{attr}" for module, attr in found if "." in module] + [
        f"{a}:celery_app" for a in apps
    ]


def test_every_command_points_at_modules_that_exist():
    services = _compose()["services"]
    checked = 0
    for name in ("web", "worker", "beat"):
        command = services[name]["command"]
        if "manage.py" in command:
            assert (ROOT / "manage.py").exists()
        for target in _targets(command):
            module, attr = target.split(":")
            assert hasattr(importlib.import_module(module), attr), f"{name}: {target}"
            checked += 1
    assert checked >= 3


def test_dockerfile_command_and_dependencies_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "signflow.wsgi:application" in dockerfile
    assert hasattr(importlib.import_module("signflow.wsgi"), "application")
    assert "libharfbuzz-subset0" in dockerfile
    assert (ROOT / ".env.example").exists()
