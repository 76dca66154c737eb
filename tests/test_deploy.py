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


APP_SERVICES = ("web", "worker-messages", "worker", "beat")
RUNTIME_USER = "signflow"


def test_compose_has_every_service():
    services = _compose()["services"]
    assert set(services) >= {
        *APP_SERVICES,
        *("migrate", "bucket", "proxy", "postgres", "redis", "minio"),
    }
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        # Keys outside media, storage in the bucket MinIO serves (README, Storage).
        assert env["SIGNFLOW_KEYS_DIR"] != env["MEDIA_ROOT"]
        assert not Path(env["SIGNFLOW_KEYS_DIR"]).is_relative_to(env["MEDIA_ROOT"])
        assert env["AWS_S3_ENDPOINT_URL"].endswith("minio:9000}")
        # No app service runs as root: the image's user owns the volumes.
        assert services[name].get("user", RUNTIME_USER) == RUNTIME_USER, name
    assert services["web"]["deploy"]["replicas"] == 2


def _queues(command: str) -> set[str]:
    words = shlex.split(command)
    assert "-Q" in words, command
    return set(words[words.index("-Q") + 1].split(","))


def test_the_workers_split_the_queues_with_codes_alone():
    from signflow.celery import QUEUES

    services = _compose()["services"]
    messages = _queues(services["worker-messages"]["command"])
    others = _queues(services["worker"]["command"])
    assert messages == {"messages"}
    assert messages | others == set(QUEUES) and not messages & others


def test_the_proxy_sends_to_the_web_replicas_with_the_client_address():
    services = _compose()["services"]
    proxy = services["proxy"]
    source, target = proxy["volumes"][0].split(":")[:2]
    config = (ROOT / source).read_text()
    assert target == "/etc/nginx/conf.d/default.conf"
    assert re.search(r"server web:8000\b", config)
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in config
    assert "X-Forwarded-Proto" in config
    # One proxy appends to X-Forwarded-For: the web trusts exactly one entry.
    assert services["web"]["environment"]["SIGNFLOW_TRUSTED_PROXIES"] == "1"
    # Uploads (20 MB by default) pass the proxy.
    size = re.search(r"client_max_body_size (\d+)m;", config)
    assert size and int(size.group(1)) * 1024 * 1024 > 20 * 1024 * 1024
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


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
    for name in APP_SERVICES:
        command = services[name]["command"]
        if "manage.py" in command:
            assert (ROOT / "manage.py").exists()
        for target in _targets(command):
            module, attr = target.split(":")
            assert hasattr(importlib.import_module(module), attr), f"{name}: {target}"
            checked += 1
    assert checked >= 4


def test_dockerfile_command_and_dependencies_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "signflow.wsgi:application" in dockerfile
    assert hasattr(importlib.import_module("signflow.wsgi"), "application")
    assert "libharfbuzz-subset0" in dockerfile
    assert (ROOT / ".env.example").exists()


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
        assert waits_for["bucket"]["condition"] == "service_completed_successfully", name
        assert waits_for["postgres"]["condition"] == "service_healthy", name
        assert waits_for["redis"]["condition"] == "service_healthy", name
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
    assert {"/data/media", "/data/keys", "/data/metrics", "/data/beat"} <= targets
    for target in targets:
        assert target in made, f"{target} is not created in the Dockerfile"
        assert target in owned, f"{target} is not chowned to {RUNTIME_USER}"
    # MEDIA_ROOT (uploads and the sealing keys) is one of them.
    for name in APP_SERVICES:
        env = _compose()["services"][name]["environment"]
        for variable in ("MEDIA_ROOT", "SIGNFLOW_KEYS_DIR", "PROMETHEUS_MULTIPROC_DIR"):
            assert env[variable] in targets, (name, variable)
        # The entry point checks each of them before starting.
        assert set(env["SIGNFLOW_WRITABLE_DIRS"].split()) >= {
            env["MEDIA_ROOT"],
            env["SIGNFLOW_KEYS_DIR"],
            env["PROMETHEUS_MULTIPROC_DIR"],
        }


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


def _pinned(lock: str) -> dict[str, str]:
    from scripts.lock_check import pins

    return pins(ROOT / lock)


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_dependency_of_pyproject_is_pinned_in_the_lock(lock: str):
    """Fails when someone adds a dependency without `make lock` (make venv still installs it)."""
    from scripts.lock_check import missing

    assert missing(ROOT / lock, dev="dev" in lock) == []


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_pin_carries_its_hashes(lock: str):
    text = (ROOT / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(entries) == len(_pinned(lock)) > 30
    for entry in entries:
        assert "==" in entry.splitlines()[0] and "--hash=sha256:" in entry, entry[:200]


def test_the_dev_lock_keeps_the_main_pins():
    main, dev = _pinned("requirements.lock"), _pinned("requirements-dev.lock")
    assert {name: dev.get(name) for name in main} == main


def test_the_image_and_make_install_from_the_lock_then_signflow_without_dependencies():
    dockerfile = _dockerfile()
    lock_step = dockerfile.index("pip install --require-hashes -r requirements.lock")
    assert lock_step < dockerfile.index("pip install --no-deps -e .")
    assert "pip install ." not in dockerfile.replace("pip install --no-deps -e .", "")
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("--require-hashes -r requirements-dev.lock") < recipe.index(
        "--no-deps -e ."
    )
    # A stale lock (a dependency added since `make lock`) still gives a working venv.
    assert "scripts/lock_check.py requirements-dev.lock ||" in recipe
    assert re.search(r"^lock: venv$", makefile, flags=re.MULTILINE)


def test_lock_check_names_a_dependency_the_lock_lacks(tmp_path: Path):
    from scripts.lock_check import missing

    stale = tmp_path / "requirements.lock"
    text = (ROOT / "requirements.lock").read_text()
    stale.write_text(re.sub(r"(?m)^django-structlog==.*\n(    .*\n)*", "", text))
    assert any("django-structlog" in problem for problem in missing(stale, dev=False))
