"""The signer page under gunicorn (2 workers of 4 threads, as docker-compose runs them; DEBUG
off, PostgreSQL), 16 connections at once, against its floor in the same server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sf_bench_signer \
        .venv/bin/python bench/bench_signer.py [-n 5] [--requests 400] [--port 18310]

The database of DATABASE_URL is migrated and seeded (seed_demo, one sent invoice envelope); a
non-PostgreSQL DATABASE_URL skips the bench. DATABASE_CONN_MAX_AGE is SignFlow's default (60 s)
unless set.

- project: GET /s/<token>/, the page a signer's link opens (a later view: the link was opened
  once before, no session yet, so the code step).
- floor: GET /floor/<token>/ (bench/_floor_urls.py, bench-only URLconf): the same middleware,
  one indexed lookup of the party by token hash and a 1 KB template.

Each run sends `--requests` requests over 16 threads (a new connection each: the client sends
`Connection: close`); runs alternate project, floor (ABAB, `-n` pairs). BENCH signer-page:
requests per second, the ratio project / floor (median of the pairs), target >= 0.5.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CONNECTIONS = 16


def _environment(port: int) -> dict[str, str]:
    # A folder of its own: the server's SECRET_KEY is not the other benches' one, and the
    # sealing keys stored under the var folder are encrypted with it.
    var_dir = os.path.join(
        os.environ.get("SIGNFLOW_VAR_DIR", tempfile.gettempdir()), "bench-signer"
    )
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}",
        "DJANGO_SETTINGS_MODULE": "_floor_settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-signer-not-a-secret-0123456789abcdef0123456789",
        "SIGNFLOW_VAR_DIR": var_dir,
        "SIGNFLOW_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
    }


def _seed() -> str:
    """A sent invoice envelope; the director's link token (the link opened once)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from _flow import demo_deal, new_invoice, send

    from signflow.celery import app
    from signing import services, tokens
    from signing.models import Party

    app.conf.task_always_eager = True
    deal = demo_deal()
    envelope = services.envelope_create_from_invoice(
        invoice=new_invoice(deal), actor=deal.responsible, language="fr"
    )
    send(envelope, deal)
    party = Party.objects.get(envelope=envelope, role=Party.Role.COMPANY)
    services.party_open(party=party, ip="127.0.0.1", user_agent="bench")
    assert envelope.deadline is None or envelope.deadline > timezone.now() + timedelta(days=1)
    return tokens.token_for(party_id=party.pk, nonce=party.token_nonce)


def _get(port: int, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


class Load:
    """`requests` GETs of one path over CONNECTIONS threads; the latencies of the last run."""

    def __init__(self, port: int, path: str, requests: int) -> None:
        self.port, self.path, self.requests = port, path, requests
        self.latencies: list[float] = []

    def __call__(self) -> None:
        lock = threading.Lock()
        left = [self.requests]
        latencies: list[float] = []

        def worker() -> None:
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                status, seconds = _get(self.port, self.path)
                assert status == 200, f"{self.path}: {status}"
                with lock:
                    latencies.append(seconds)

        threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.latencies = latencies


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "signflow.wsgi", "-w", "2", "--threads", "4"]
        + ["-b", f"127.0.0.1:{port}"]
        + ["--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(port, "/healthz")[0] in (200, 404):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="pairs of runs (>= 5)")
    parser.add_argument("--requests", type=int, default=400, help="requests per run")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "18310")))
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("bench_signer skipped: set DATABASE_URL to a PostgreSQL database of its own")
        return
    env = _environment(args.port)
    os.environ.update(env)
    sys.path[:0] = [str(ROOT), str(BENCH)]
    from _db import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    token = _seed()
    from django.db import connections

    connections.close_all()
    from _report import interleave, report

    server = _serve(args.port, env)
    try:
        project = Load(args.port, f"/s/{token}/", args.requests)
        floor = Load(args.port, f"/floor/{token}/", args.requests)
        project_p95: list[float] = []
        floor_p95: list[float] = []

        def run(load: Load, p95: list[float]) -> None:
            load()
            p95.append(statistics.quantiles(load.latencies, n=20)[-1])

        pairs = interleave(
            lambda: run(project, project_p95), lambda: run(floor, floor_p95), pairs=args.n
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    project_rps = [args.requests / seconds for seconds in pairs.project]
    floor_rps = [args.requests / seconds for seconds in pairs.floor]
    print(
        f"signer page: {statistics.median(project_rps):.0f} rps (p95 "
        f"{statistics.median(project_p95[1:]) * 1000:.0f} ms); floor "
        f"{statistics.median(floor_rps):.0f} rps (p95 {statistics.median(floor_p95[1:]) * 1000:.0f}"
        f" ms); {CONNECTIONS} connections, 2 workers x 4 threads",
        flush=True,
    )
    report(
        "signer-page",
        project=statistics.median(project_rps),
        floor=statistics.median(floor_rps),
        ratio=statistics.median(p / f for p, f in zip(project_rps, floor_rps, strict=True)),
        target=0.5,
        unit="rps",
        higher_is_better=True,
    )


if __name__ == "__main__":
    main()
