"""Board and list render time at 1 000 and 100 000 envelopes, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sf_board_bench \
        .venv/bin/python bench/bench_board.py [--runs 15]

Uses two databases: DATABASE_URL's (100 000 envelopes) and the same name with "_1k" (1 000).
Each is created, migrated and filled with `generate_envelopes` if it holds fewer envelopes than
wanted, then reused on later runs. The renders go through the Django test client as a manager
(every envelope visible), after a few warm-up renders; the median of each is printed, and the
ratio 100 000 / 1 000, which must stay under 2. "board_cold" clears the cache before each render:
the column counts (one GROUP BY over the visible envelopes) are cached per data version, so that
is the cost of the first view after an envelope changed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _db import ensure_database

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(1_000, "_1k"), (100_000, "")]
PAGES = {"board": "/board/", "list": "/board/list/", "board_cold": "/board/"}


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(ROOT))
    env.setdefault("SIGNFLOW_VAR_DIR", str(ROOT / "var" / "bench-board"))
    env.setdefault("DEBUG", "1")  # the bench needs no secrets; DEBUG only relaxes settings
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


def measure(runs: int) -> dict[str, object]:
    """Runs inside a child process whose DATABASE_URL is the database to measure."""
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
    out: dict[str, object] = {"envelopes": Envelope.objects.count()}
    for name, url in PAGES.items():
        for _ in range(3):
            assert client.get(url).status_code == 200
        times = []
        for _ in range(runs):
            if name == "board_cold":
                cache.clear()  # column counts recomputed: the first view after a change
            reset_queries()
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        out[name] = statistics.median(times)
        out[f"{name}_queries"] = len(connection.queries)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.runs)))
        return
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/sf_board_bench"
        )
    results = {}
    for size, suffix in SIZES:
        url = _with_suffix(base, suffix)
        print(f"{size} envelopes: {urlsplit(url).path.lstrip('/')}")
        prepare(url, size)
        child = subprocess.run(
            [sys.executable, __file__, "--measure", "--runs", str(args.runs)],
            env=_env(url),
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        results[size] = json.loads(child.stdout.strip().splitlines()[-1])
        r = results[size]
        print(
            f"  {r['envelopes']} envelopes: board {r['board']:.1f} ms ({r['board_queries']} queries),"
            f" board with counts recomputed {r['board_cold']:.1f} ms,"
            f" list {r['list']:.1f} ms ({r['list_queries']} queries)"
        )
    small, large = results[1_000], results[100_000]
    ok = True
    for name in PAGES:
        ratio = large[name] / small[name]  # type: ignore[operator]
        ok = ok and ratio < 2
        print(
            f"{name}: median {small[name]:.1f} ms at 1 000, {large[name]:.1f} ms at 100 000,"
            f" ratio {ratio:.2f} ({'OK' if ratio < 2 else 'OVER 2'})"
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
