"""docker-compose.yml describes the deployment; no Docker engine runs here, so check that every
service is there and that every command points at modules and settings that exist."""

import importlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
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


APP_SERVICES = ("web", "worker", "beat")
RUNTIME_USER = "signflow"


def _dockerfile() -> str:
    # Continuation lines joined, so that one RUN reads as one line.
    return (ROOT / "Dockerfile").read_text().replace("\\\n", " ")


def test_migrations_run_once_before_the_other_services():
    services = _compose()["services"]
    migrate = services["migrate"]
    assert "manage.py migrate" in migrate["command"]
    assert migrate.get("restart", "no") == "no"
    for name in APP_SERVICES:
        waits_for = services[name]["depends_on"]
        assert waits_for["migrate"]["condition"] == "service_completed_successfully", name
        # Every replica running migrate at start races the others on the same tables.
        assert "migrate" not in services[name]["command"], name
    # migrate itself must not wait for what waits for it.
    assert "migrate" not in migrate.get("depends_on", {})


def test_beat_keeps_its_schedule_on_a_volume():
    beat = _compose()["services"]["beat"]
    words = shlex.split(beat["command"])
    assert "--schedule" in words or "-s" in words
    flag = "--schedule" if "--schedule" in words else "-s"
    schedule = Path(words[words.index(flag) + 1])
    assert schedule.parts[1] != "tmp", schedule  # wiped at every container start
    targets = [Path(mount.split(":")[1]) for mount in beat["volumes"]]
    assert any(schedule.is_relative_to(target) for target in targets), (schedule, targets)


def _created_and_owned(dockerfile: str) -> tuple[set[str], set[str]]:
    """Folders made by `mkdir` and folders given to the runtime user by `chown`, while root."""
    made: set[str] = set()
    owned: set[str] = set()
    before_user = dockerfile.split(f"USER {RUNTIME_USER}")[0]
    for run in re.findall(r"^RUN (.*)$", before_user, flags=re.MULTILINE):
        for command in re.split(r"&&|;", run):
            words = shlex.split(command)
            if not words:
                continue
            paths = [w for w in words[1:] if w.startswith("/")]
            if words[0] == "mkdir":
                made.update(paths)
            elif words[0] == "chown" and any(w.startswith(f"{RUNTIME_USER}") for w in words):
                owned.update(paths)
    return made, owned


def test_every_volume_target_exists_in_the_image_owned_by_the_runtime_user():
    dockerfile = _dockerfile()
    assert re.search(rf"^USER {RUNTIME_USER}$", dockerfile, flags=re.MULTILINE)
    made, owned = _created_and_owned(dockerfile)
    targets = {
        mount.split(":")[1]
        for name in ("migrate", *APP_SERVICES)
        for mount in _compose()["services"][name].get("volumes", [])
    }
    assert {"/data/media", "/data/beat"} <= targets
    for target in targets:
        assert target in made, f"{target} is not created in the Dockerfile"
        assert target in owned, f"{target} is not chowned to {RUNTIME_USER}"
    # MEDIA_ROOT (uploads and the sealing keys) is one of them.
    for name in APP_SERVICES:
        assert _compose()["services"][name]["environment"]["MEDIA_ROOT"] in targets


def test_the_entrypoint_is_the_one_in_the_repository():
    entrypoint = re.search(r'^ENTRYPOINT \["([^"]+)"', _dockerfile(), flags=re.MULTILINE)
    assert entrypoint is not None
    script = ROOT / Path(entrypoint.group(1)).relative_to("/app")
    assert script.exists() and os.access(script, os.X_OK)
    beat_env = _compose()["services"]["beat"]["environment"]
    assert "/data/beat" in beat_env["SIGNFLOW_WRITABLE_DIRS"].split()


ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="sf-entrypoint-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_entrypoint_refuses_a_root_owned_folder_with_a_clear_message(open_tmp: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder the test user cannot write")
    media = open_tmp / "media"
    media.mkdir(mode=0o755)  # owned by root, as Docker creates a mount point it lacks
    env = {"PATH": os.environ["PATH"], "MEDIA_ROOT": str(media)}
    result = _as_nobody([str(ENTRYPOINT), "echo", "started"], env)
    assert result.returncode == 1
    assert "started" not in result.stdout
    assert f"cannot write to {media}" in result.stderr
    assert "owned by root (uid 0)" in result.stderr
    assert "chown" in result.stderr
    assert not list(media.iterdir())


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_entrypoint_starts_the_command_when_every_folder_is_writable(open_tmp: Path):
    media, beat = open_tmp / "media", open_tmp / "beat"
    for folder in (media, beat):
        folder.mkdir(mode=0o777)
        folder.chmod(0o777)
    env = {"PATH": os.environ["PATH"], "SIGNFLOW_WRITABLE_DIRS": f"{media} {beat}"}
    result = _as_nobody([str(ENTRYPOINT), "echo", "started"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"
    assert not list(media.iterdir()) and not list(beat.iterdir())  # the probe is removed
