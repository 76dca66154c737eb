"""Cost of one envelope: CPU seconds per step, database rows and bytes, storage bytes.

    .venv/bin/python bench/bench_cost.py [-n 20]
        [--database postgres://postgres@127.0.0.1:5432/sf_bench_cost]

Drops and recreates the PostgreSQL database of --database, migrates it, seeds the demo, then
takes `-n` one-line invoices (after one warm-up envelope: imports, keys, fonts) through the
real services in this process: render the invoice PDF, send, the director signs (code asked
and confirmed, typed signature and stamp), the client signs, seal, then every message the
envelope wrote is delivered (email to Django's in-memory backend, SMS to the outbox backend:
SignFlow's side of a send, not the provider's). Tasks are not run eagerly: each step is called
on its own and timed by the CPU seconds of this process and its children (the PDF work runs in
child processes), of its PostgreSQL server process, and by the wall clock.

Database: rows added per table and the growth of each table with its indexes and TOAST
(pg_total_relation_size, after VACUUM ANALYZE), divided by n. Storage: bytes added under
MEDIA_ROOT per folder, divided by n. bench/README.md ("Scale on paper") turns these into nodes.

Measured 2026-11-30, -n 20, on a 2-core machine shared with other work: app CPU per envelope
1.56 s (render 0.331, send 0.029, director signs 0.086, client signs 0.065, seal 0.973,
8 messages 0.081), PostgreSQL CPU 0.09 s; 63 rows and about 50 KB of database; 329 KB of
storage (sealed PDF 276 KB, signature images 39 KB, document 13 KB).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _recreate(url: str) -> None:
    import dj_database_url

    db = dj_database_url.parse(url)
    base = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    subprocess.run(["dropdb", "--if-exists", *base, db["NAME"]], check=True)
    subprocess.run(["createdb", *base, db["NAME"]], check=True)


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (after the name)


def _tree_cpu(root: int) -> float:
    """CPU seconds of `root` and every descendant, live or reaped (utime, stime, cutime,
    cstime): the PDF work runs in child processes (pdfguard's fork server, WeasyPrint)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    total = 0
    for pid in tree:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / _TICK


def _backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL server process (same machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return sum(int(value) for value in _stat(pid)[11:13]) / _TICK


def _tables() -> dict[str, tuple[int, int]]:
    """Every table of ours: (rows, bytes with indexes and TOAST)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables"
        )
        sizes = dict(cursor.fetchall())
        out = {}
        for table, size in sizes.items():
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from the catalog
            out[table] = (cursor.fetchone()[0], size)
    return out


def _media(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    if root.exists():
        for path in root.rglob("*"):
            if path.is_file():
                top = path.relative_to(root).parts[0]
                sizes[top] += path.stat().st_size
    return sizes


def _print_growth(
    n: int,
    tables_before: dict[str, tuple[int, int]],
    tables_after: dict[str, tuple[int, int]],
    media_before: dict[str, int],
    media_after: dict[str, int],
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Print what the database (rows, bytes per table) and the storage (bytes per folder)
    grew by, per envelope, and return the three."""
    rows: dict[str, float] = {}
    size: dict[str, float] = {}
    for table, (count, nbytes) in tables_after.items():
        old_count, old_bytes = tables_before.get(table, (0, 0))
        if count != old_count or nbytes != old_bytes:
            rows[table] = (count - old_count) / n
            size[table] = (nbytes - old_bytes) / n
    print("database per envelope (rows, bytes with indexes):")
    for table in sorted(size, key=lambda t: -size[t]):
        print(f"  {table:<34}{rows[table]:>7.1f}{size[table]:>10.0f}")
    print(f"  {'total':<34}{sum(rows.values()):>7.1f}{sum(size.values()):>10.0f}")
    print("storage per envelope (bytes):")
    grown = {k: (media_after.get(k, 0) - media_before.get(k, 0)) / n for k in media_after}
    for folder, grew in sorted(grown.items(), key=lambda kv: -kv[1]):
        if grew:
            print(f"  {folder:<34}{grew:>10.0f}")
    print(f"  {'total':<34}{sum(grown.values()):>10.0f}")
    return rows, size, grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="envelopes measured")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_cost")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sf-bench-cost-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="signflow.settings",
        DEBUG="1",
        DATABASE_URL=args.database,
        SIGNFLOW_VAR_DIR=str(work / "var"),
        MEDIA_ROOT=str(work / "media"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        SIGNFLOW_LOG_FORMAT="console",
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    _recreate(args.database)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # no query log growing in memory
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)

    from _flow import demo_deal, new_invoice, send

    from signflow.celery import app
    from signing import demo, notifications, services
    from signing.models import Envelope, Message

    app.conf.task_always_eager = False  # queued tasks stay in the in-memory broker
    deal = demo_deal()

    cpu: dict[str, list[float]] = defaultdict(list)
    db_cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    me = os.getpid()

    def timed(step: str, call: Callable[[], Any]) -> Any:
        c0, d0, w0 = _tree_cpu(me), _backend_cpu(), time.perf_counter()
        result = call()
        wall[step].append(time.perf_counter() - w0)
        cpu[step].append(_tree_cpu(me) - c0)
        db_cpu[step].append(_backend_cpu() - d0)
        return result

    def one_envelope() -> int:
        invoice = new_invoice(deal)
        envelope = timed(
            "render",
            lambda: services.envelope_create_from_invoice(
                invoice=invoice, actor=deal.responsible, language="fr"
            ),
        )
        timed("send", lambda: send(envelope, deal, client_sms=True))
        director, client = list(envelope.parties.order_by("order"))
        timed(
            "sign (director)",
            lambda: demo._sign(director, typed_name=director.name, stamp=demo._stamp()),
        )
        client.refresh_from_db()
        timed("sign (client)", lambda: demo._sign(client, typed_name=client.name, stamp=None))
        timed("seal", lambda: services.envelope_seal(envelope_id=envelope.pk))
        queued = Message.objects.filter(envelope=envelope, status=Message.Status.QUEUED)
        ids = list(queued.values_list("pk", flat=True))
        timed("messages", lambda: [notifications.deliver(message_id=pk) for pk in ids])
        cpu["messages (count)"].append(len(ids))
        envelope.refresh_from_db()
        assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
        return envelope.pk

    one_envelope()  # warm-up
    cpu.clear()
    wall.clear()
    tables_before, media_before = _tables(), _media(Path(settings.MEDIA_ROOT))
    for _ in range(args.n):
        one_envelope()
    tables_after, media_after = _tables(), _media(Path(settings.MEDIA_ROOT))

    n = args.n
    steps = ["render", "send", "sign (director)", "sign (client)", "seal", "messages"]
    print(f"{n} envelopes (one-line invoice, 2 parties, 1 seal), per envelope (CPU: mean):")
    print(f"{'step':<18}{'app CPU s':>10}{'DB CPU s':>10}{'wall s':>8}")
    for step in steps:
        print(
            f"{step:<18}{statistics.mean(cpu[step]):>10.3f}"
            f"{statistics.mean(db_cpu[step]):>10.3f}{statistics.median(wall[step]):>8.3f}"
        )
    total_cpu = sum(statistics.mean(cpu[step]) for step in steps)
    total_db = sum(statistics.mean(db_cpu[step]) for step in steps)
    print(f"{'total':<18}{total_cpu:>10.3f}{total_db:>10.3f}")
    print(f"messages per envelope: {statistics.median(cpu['messages (count)']):.0f}")

    rows, size, grown = _print_growth(
        args.n, tables_before, tables_after, media_before, media_after
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "cpu": {s: statistics.mean(cpu[s]) for s in steps},
                    "db_cpu": {s: statistics.mean(db_cpu[s]) for s in steps},
                    "wall": {s: statistics.median(wall[s]) for s in steps},
                    "rows": rows,
                    "db_bytes": size,
                    "storage_bytes": grown,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
