"""Board and list render time at 100 000 envelopes against 1 000, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sf_board_bench \
        .venv/bin/python bench/bench_board.py [--runs 15]

Uses two databases: DATABASE_URL's (100 000 envelopes) and the same name with "_1k" (1 000).
Each is created, migrated and filled with `generate_envelopes` if it holds fewer envelopes than
wanted, then reused on later runs. One child process per database renders through the Django
test client as a manager (every envelope visible); the parent asks them in turn, 100 000 then
1 000 (ABAB, `--runs` pairs after warm-up renders). "board_cold" clears the cache before each
render: the column counts (one GROUP BY over the visible envelopes) are cached per data
version, so that is the cost of the first view after an envelope changed.

BENCH board-100k-vs-1k: the board (counts cached) at 100 000 against 1 000, target <= 1.3.
The list and the board with its counts recomputed are printed beside it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _db import ensure_database
from _report import interleave, report

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(1_000, "_1k"), (100_000, "")]
PAGES = {"board": "/board/", "list": "/board/list/", "board_cold": "/board/"}


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(ROOT))
    env.setdefault("SIGNFLOW_VAR_DIR", str(ROOT / "var" / "bench-board"))
    env.setdefault("DEBUG", "1")  # the bench needs no secrets; DEBUG only relaxes settings
    env.setdefault("LOG_LEVEL", "WARNING")
    return env


def _with_suffix(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + suffix))


def _manage(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=_env(url),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def prepare(url: str, size: int) -> None:
    ensure_database(url)
    _manage(url, "migrate", "--noinput", "-v0")
    output = _manage(
        url, "shell", "-c", "from signing.models import Envelope; print(Envelope.objects.count())"
    )
    count = int(output.strip().splitlines()[-1])
    if count < size:
        started = time.monotonic()
        _manage(url, "generate_envelopes", "--count", str(size - count))
        print(f"  generated {size - count} envelopes in {time.monotonic() - started:.1f} s")
        _manage(url, "dbshell", "--", "-c", "VACUUM ANALYZE")


def serve() -> None:
    """Runs inside a child process whose DATABASE_URL is the database to measure: renders the
    page named on each line of stdin and answers with its query count (or "envelopes")."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import setup_test_environment

    from crm.models import Employee
    from signing.models import Envelope

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = True  # to count queries
    manager = Employee.objects.filter(role=Employee.Role.MANAGER).select_related("user").first()
    assert manager is not None, "generate_envelopes creates a manager"
    client = Client()
    client.force_login(manager.user)
    for request in sys.stdin:
        name = request.strip()
        if name == "envelopes":
            print(Envelope.objects.count(), flush=True)
            continue
        if name == "board_cold":
            cache.clear()  # column counts recomputed: the first view after a change
        reset_queries()
        assert client.get(PAGES[name]).status_code == 200
        print(len(connection.queries), flush=True)


class Renderer:
    """A child process serving one database: `render(name)` returns its query count."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            env=_env(url),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, name: str) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def compare(large: Renderer, small: Renderer, name: str, runs: int) -> None:
    queries = (large.ask(name), small.ask(name))
    pairs = interleave(lambda: large.ask(name), lambda: small.ask(name), pairs=runs, warmup=2)
    print(f"{name}: 100 000 vs 1 000: {pairs.summary()}; queries {queries[0]} vs {queries[1]}")
    if name == "board":
        report(
            "board-100k-vs-1k",
            project=statistics.median(pairs.project) * 1000,
            floor=statistics.median(pairs.floor) * 1000,
            ratio=pairs.ratio,
            target=1.3,
        )
    else:
        print(f"  ratio {pairs.ratio:.2f} (no target)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/sf_board_bench"
        )
    renderers = {}
    for size, suffix in SIZES:
        url = _with_suffix(base, suffix)
        print(f"{size} envelopes: {urlsplit(url).path.lstrip('/')}", flush=True)
        prepare(url, size)
        renderers[size] = Renderer(url)
    large, small = renderers[100_000], renderers[1_000]
    try:
        print(f"envelopes: {large.ask('envelopes')} vs {small.ask('envelopes')}", flush=True)
        for name in PAGES:
            compare(large, small, name, args.runs)
    finally:
        large.close()
        small.close()


if __name__ == "__main__":
    main()
