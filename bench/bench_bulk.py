"""Bulk send: the time to accept and queue a 1 000-row file, and envelopes rendered and sent per
second by 1 and 2 real Celery workers against the single-envelope floor of the same run.

    .venv/bin/python bench/bench_bulk.py [--rows 1000] [--render-rows 24] [--rounds 2]
        [--database postgres://postgres@127.0.0.1:5432/sf_bench_bulk]
        [--redis redis://127.0.0.1:6379/5]

The script drops and recreates the database of --database and empties the Redis database of
--redis (use ones nothing else uses). Everything runs on 127.0.0.1, email to Django's locmem
backend (the provider is what lives off this machine).

1. Accept: an employee uploads a `--rows` CSV (one landline among mobiles) and presses Send,
   through the real views (Django's test client), with the broker up and no worker running:
   the two requests' time is what the person waits. Target: under 5 s (issue 15).
2. Throughput, interleaved in `--rounds` rounds (order rotated each round):
   - floor: one envelope at a time in this process, the way a worker does one row (the
     template rendered to a PDF in its sandbox child, the envelope created and sent, its
     invitation delivered), no Celery;
   - 1 worker and 2 workers: a `--render-rows` batch from the same template sent by that many
     worker processes (prefork, concurrency 1, queues bulk and messages), from the Send press
     to the batch finished.
   Prints envelopes per second, and PASS when 2 workers beat 1 worker (the work is shared) and
   1 worker stays within 25 % of the floor (Celery and the row claim cost little).
3. The issue's acceptance with the workers: the `--rows` batch of step 1 is then sent by 2
   workers from an uploaded document (no render): PASS when every row but the landline has its
   envelope and the landline is reported with its line.
Exit status 1 only when that batch comes out wrong (a correctness failure); a MISS in steps 1-2
is a result, shown in the BENCH lines, not a failure (it used to exit 1 on a throughput MISS).

Measured 2026-11-30 with the defaults on a 2-core machine shared with other work
(`.venv/bin/python -u bench/bench_bulk.py`): accept 1 000 rows 1.79 s (upload and check
1.61 s, send 0.18 s): PASS (5.19 s in an earlier run under heavier load, before rows were
checked ahead of their INSERT). Rendered and sent per second, median of 2 rounds of 24: floor
3.35 (rounds 4.51 and 2.18: the machine's load dominates), 1 worker 2.21, 2 workers 2.26:
2 workers x1.02 of 1 (PASS, barely: rendering is CPU-bound and the two cores are shared, so a
second worker process adds little here), 1 worker at 66 % of the floor (MISS). The 1 000-row
batch from an uploaded document: 999 envelopes in 35 s by 2 workers (28/s), line 500
reported (a landline for SMS): PASS; an earlier, busier run took 154 s.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import report

ROOT = Path(__file__).resolve().parent.parent
ACCEPT_TARGET = 5.0
BAD_LINE = 500


def _environment(args: argparse.Namespace, work: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "signflow.settings_test",
        "SIGNFLOW_FORCE_BROKER": "1",  # tasks go through Redis, not in-process
        "SECRET_KEY": "bench-bulk-secret-key-not-for-production",
        "DATABASE_URL": args.database,
        "REDIS_URL": args.redis,
        "SIGNFLOW_VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"),
        "LOG_LEVEL": "WARNING",
        "SIGNFLOW_LOG_FORMAT": "console",
    }


def _recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _csv(rows: int, bad_line: int | None = BAD_LINE) -> bytes:
    """Recipients by email; the one at file line `bad_line` by SMS on a landline (refused)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Nom", "Email", "Téléphone", "client.legal_name", "deal.title"])
    for i in range(1, rows + 1):
        bad = i + 1 == bad_line
        phone = "01 23 45 67 89" if bad else "06 12 34 56 78"
        channel_email = "" if bad else f"client{i}@example.com"
        writer.writerow([f"Client {i}", channel_email, phone, f"Société {i}", "Abonnement 2027"])
    return out.getvalue().encode()


class Workers:
    """`count` real Celery worker processes on bulk and messages, stopped on exit."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "signflow",
                    "worker",
                    "-Q",
                    "bulk,messages",
                    "--pool=prefork",
                    "--concurrency=1",
                    "-n",
                    f"bench{index}@%h",
                    "-l",
                    "warning",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
            )  # fmt: skip
            for index in range(count)
        ]
        from signflow.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= count:
                return
        raise RuntimeError("workers did not start")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # our own children, by their handle
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_done(batch_id: int, timeout: float) -> float:
    from bulk.models import Batch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Batch.objects.filter(pk=batch_id, status=Batch.Status.DONE).exists():
            return time.monotonic()
        time.sleep(0.2)
    raise RuntimeError(f"batch {batch_id} not finished in {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--render-rows", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_bulk")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    env = _environment(args, work)
    os.environ.update(env)
    _recreate_database(args.database)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    redis.Redis.from_url(args.redis).flushdb()
    call_command("migrate", verbosity=0)
    return run(args, env)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from bulk import services
    from bulk.models import Batch, BulkRow
    from crm.models import OwnCompany
    from documents import services as documents
    from documents.models import DocumentTemplate, Field
    from signing.models import Envelope
    from signing.notifications import deliver
    from tests import factories
    from tests.security.conftest import blank_pdf

    company: OwnCompany = factories.make_company()
    user = factories.make_user("bench.sender", company=company)
    document = documents.document_create_from_upload(
        uploaded_file=SimpleUploadedFile("c.pdf", blank_pdf(), "application/pdf"),
        title="Contrat cadre",
        creator=user,
        language="fr",
    )
    document.fields.exclude(role=Field.Role.CLIENT, kind=Field.Kind.SIGNATURE).delete()
    template = DocumentTemplate.objects.create(
        name="Adhésion",
        kind="other",
        language="fr",
        body=(
            "<h1>Adhésion de {{ client.legal_name }}</h1><p>{{ deal.title }}</p>"
            '{% field "signature" party="client" %}'
        ),
        created_by=user,
    )

    # 1. Accept and queue through the views, no worker running.
    client = Client()
    client.force_login(user)
    data = _csv(args.rows)
    started = time.perf_counter()
    response = client.post(
        reverse("bulk:batch_new"),
        {"source": f"d:{document.pk}", "file": SimpleUploadedFile("r.csv", data, "text/csv")},
    )
    uploaded = time.perf_counter()
    batch = Batch.objects.get()
    assert response.status_code == 302, response.status_code
    response = client.post(reverse("bulk:batch_send", args=[batch.pk]))
    queued = time.perf_counter()
    assert response.status_code == 302
    accept = queued - started
    verdict = "PASS" if accept < ACCEPT_TARGET else "MISS"
    print(
        f"accept {args.rows} rows: upload+check {uploaded - started:.2f} s, "
        f"send (queue) {queued - uploaded:.2f} s, total {accept:.2f} s "
        f"(target < {ACCEPT_TARGET:.0f} s): {verdict}"
    )
    # The big batch waits in Redis; park it so the throughput rounds measure their own rows.
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.DRAFT)
    import redis

    redis.Redis.from_url(args.redis).flushdb()

    # 2. Throughput, interleaved.
    rows = args.render_rows
    rendered = _csv(rows, bad_line=None)
    results: dict[str, list[float]] = {"floor": [], "1 worker": [], "2 workers": []}

    def floor() -> float:
        spec_batch = services.batch_create(
            actor=user, file_name="f.csv", data=rendered, template=template
        )
        t0 = time.perf_counter()
        for row in spec_batch.rows.order_by("line"):
            # What a runner does per row, minus the claim: the envelope, then its invitation
            # delivered (the workers deliver it too, on the bulk queue).
            envelope = services._send_row(spec_batch, row)
            for message_id in envelope.messages.values_list("pk", flat=True):
                deliver(message_id=message_id)
        rate = rows / (time.perf_counter() - t0)
        redis.Redis.from_url(args.redis).flushdb()  # the delivery tasks queued meanwhile
        return rate

    def with_workers(count: int) -> float:
        pool = Workers(count, env)
        try:
            item = services.batch_create(
                actor=user, file_name="w.csv", data=rendered, template=template
            )
            t0 = time.monotonic()
            services.batch_send(batch=item, actor=user)
            done = _wait_done(item.pk, timeout=60 + rows * 10)
            assert item.rows.filter(status=BulkRow.Status.SENT).count() == rows
            return rows / (done - t0)
        finally:
            pool.stop()

    runs = {
        "floor": floor,
        "1 worker": lambda: with_workers(1),
        "2 workers": lambda: with_workers(2),
    }
    order = list(runs)
    for round_index in range(args.rounds):
        for name in order[round_index % 3 :] + order[: round_index % 3]:
            rate = runs[name]()
            results[name].append(rate)
            print(f"  round {round_index + 1} {name:9s}: {rate:5.2f} envelopes/s ({rows} rows)")
    median = {name: statistics.median(values) for name, values in results.items()}
    print(
        "envelopes rendered and sent per second (median): "
        + ", ".join(f"{name} {rate:.2f}" for name, rate in median.items())
    )
    shared = median["2 workers"] > median["1 worker"]
    print(
        f"2 workers vs 1: x{median['2 workers'] / median['1 worker']:.2f}: "
        f"{'PASS' if shared else 'MISS'}"
    )
    near_floor = median["1 worker"] >= 0.75 * median["floor"]
    print(
        f"1 worker vs the single-envelope floor: {median['1 worker'] / median['floor']:.0%}: "
        f"{'PASS' if near_floor else 'MISS'}"
    )
    for name, (project, base, target) in {
        "bulk-1-worker-vs-floor": ("1 worker", "floor", 0.75),
        "bulk-2-vs-1-workers": ("2 workers", "1 worker", 1.0),
    }.items():
        pairs = zip(results[project], results[base], strict=True)
        report(
            name,
            project=median[project],
            floor=median[base],
            ratio=statistics.median(a / b for a, b in pairs),
            target=target,
            unit="env/s",
            higher_is_better=True,
        )

    # 3. The acceptance batch, sent by 2 workers.
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.DRAFT)
    pool = Workers(2, env)
    try:
        t0 = time.monotonic()
        services.batch_send(batch=batch, actor=user)
        done = _wait_done(batch.pk, timeout=60 + args.rows * 2)
    finally:
        pool.stop()
    counts = services.counts(batch)
    sent = Envelope.objects.filter(bulk_row__batch=batch).count()
    bad = list(batch.rows.filter(status=BulkRow.Status.INVALID).values_list("line", "error"))
    accepted = sent == args.rows - 1 == counts["sent"] and [line for line, _e in bad] == [BAD_LINE]
    print(
        f"{args.rows}-row batch by 2 workers (uploaded document, no render): {sent} envelopes in "
        f"{done - t0:.0f} s ({sent / (done - t0):.2f}/s), not sent: {bad}: "
        f"{'PASS' if accepted else 'MISS'}"
    )
    # A MISS is a result, not a failure (`make bench` shows it in its table). Exit 1 only when
    # the batch came out wrong: rows not sent, or another row than the bad one rejected.
    return 0 if accepted else 1


if __name__ == "__main__":
    sys.exit(main())
