"""Real Celery workers for the tests that need one: started over Redis on the test database,
stopped (and the queues purged) afterwards. One way to start them, for every worker test."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from signflow.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]

needs_worker = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
        reason="needs REDIS_URL and PostgreSQL (make test in CI sets both)",
    ),
]


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    """This process's environment, pointed at the test database and media folder."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="signflow.settings_test",
        DATABASE_URL=_test_database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        # The worker seals with the keys this process verifies with (outside MEDIA_ROOT).
        SIGNFLOW_KEYS_DIR=str(settings.SIGNFLOW_KEYS_DIR),
        **extra,
    )
    return env


def wait_for(predicate: Callable[[], bool], timeout: float = 40.0, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Terminate what still runs, then wait for each (killed after 20 s)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@contextmanager
def celery_off_eager() -> Iterator[None]:
    """Tasks go to Redis (not in-process) inside the block; the queues are purged around it."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    try:
        yield
    finally:
        celery_app.control.purge()
        celery_app.conf.task_always_eager = True


@contextmanager
def celery_workers(
    count: int = 1, *, queues: Sequence[str] = (), **env: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` solo-pool workers of signflow (on `queues`, or every queue), with `env` added to
    their environment."""
    command = [sys.executable, "-m", "celery", "-A", "signflow", "worker", "--pool=solo"]
    command += ["-Q", ",".join(queues)] if queues else []
    command += ["-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with celery_off_eager():
        processes = [
            subprocess.Popen(
                [*command, "-n", f"test{index}@%h"],
                cwd=ROOT,
                env=worker_env(CELERY_WORKER="1", **env),
            )
            for index in range(count)
        ]
        try:
            yield processes
        finally:
            stop(processes)
