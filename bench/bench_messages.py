"""Message delivery throughput: 1 000 emails through one real Celery worker over Redis, against
1 000 no-op tasks through the same worker (issue 17, target: at least half the no-op rate).

    .venv/bin/python bench/bench_messages.py [-n 1000] [--pairs 5] [--concurrency 1]
        [--database postgres://postgres@127.0.0.1:5432/sf_bench_messages]
        [--redis redis://127.0.0.1:6379/12] [--mail file|smtp|locmem]

Everything runs on 127.0.0.1. The script drops and recreates the database of --database and
empties the Redis database of --redis (use ones nothing else uses). Set-up: 20 sent envelopes
of the demo deal; each run writes `-n` queued emails (copies of their invitations, 50 per
envelope) without timing, then times, from the first publish to the end:

- project: one `deliver_message` task per message published on `messages`, as
  `notifications.dispatch` does, until every message is `sent` and the queue is drained (each
  task run, acknowledged);
- floor: the same number of no-op tasks on the same queue, until the queue is drained.

The worker is `celery worker -Q messages --pool=prefork --concurrency 1` with
DATABASE_CONN_MAX_AGE at its default (60 s). Mail goes to the settings' default backend
(Django's file backend: one file per connection), or over SMTP to a sink on 127.0.0.1 with
`--mail smtp` (a process of its own that accepts and discards, like a provider's relay: each
email is four round trips to it), or to Django's locmem backend with `--mail locmem`. Pairs
alternate (project, floor) after one warm-up of each; the ratio is the median over pairs of
(floor seconds / project seconds): the project's share of the no-op throughput. Prints one
BENCH line (msg/s, higher is better).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.5
ENVELOPES = 20
NOOP = "bench.noop"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(args: argparse.Namespace, work: Path, smtp_port: int) -> dict[str, str]:
    backend = {"smtp": "smtp", "locmem": "locmem", "file": "filebased"}[args.mail]
    mail = {"EMAIL_BACKEND": f"django.core.mail.backends.{backend}.EmailBackend"}
    return {
        "DJANGO_SETTINGS_MODULE": "signflow.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-messages-secret-key-not-for-production-use-only",
        "DATABASE_URL": args.database,
        "REDIS_URL": args.redis,
        "SIGNFLOW_VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "SMS_BACKEND": "signing.sms.OutboxSMSBackend",
        "LOG_LEVEL": "WARNING",
        "SIGNFLOW_LOG_FORMAT": "console",
        "BENCH_READY": str(work / "ready"),
        **mail,
    }


# --- the SMTP sink and the worker (subprocesses) ---------------------------------------------


def run_sink(port: int) -> None:
    """An SMTP server that accepts every message and drops it (a provider's relay)."""
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd

    class Sink(smtpd.SMTPServer):
        def process_message(self, *_message: Any, **_options: Any) -> None:
            return None

    Sink(("127.0.0.1", port), ("127.0.0.1", 0), decode_data=False)
    asyncore.loop()


def _register_noop(app: Any) -> Any:
    if NOOP in app.tasks:
        return app.tasks[NOOP]

    @app.task(name=NOOP, ignore_result=True)
    def noop() -> None:
        return None

    return noop


def run_worker(concurrency: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from celery.signals import worker_ready
    from django.conf import settings

    from signflow.celery import app

    # The settings read no SMTP host (production names an anymail backend or its own relay).
    settings.EMAIL_HOST = os.environ["EMAIL_HOST"]
    settings.EMAIL_PORT = int(os.environ["EMAIL_PORT"])

    _register_noop(app)

    @worker_ready.connect
    def _ready(**_signal: Any) -> None:
        Path(os.environ["BENCH_READY"]).touch()

    app.worker_main(
        ["worker", "-Q", "messages", "--pool=prefork", f"--concurrency={concurrency}", "-n",
         "messages@bench", "-l", "warning", "--without-gossip", "--without-mingle",
         "--without-heartbeat"]
    )  # fmt: skip


# --- set-up and runs ----------------------------------------------------------------------------


def _setup(redis_url: str) -> list[Any]:
    """The envelopes whose invitations the runs copy; the set-up's own messages marked sent."""
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    redis.Redis.from_url(redis_url).flushdb()
    from _flow import demo_deal, new_invoice, send

    from signing import services
    from signing.models import Message

    deal = demo_deal()
    for _ in range(ENVELOPES):
        envelope = services.envelope_create_from_invoice(
            invoice=new_invoice(deal), actor=deal.responsible, language="fr"
        )
        send(envelope, deal)
    redis.Redis.from_url(redis_url).flushdb()
    Message.objects.filter(status=Message.Status.QUEUED).update(status=Message.Status.SENT)
    return list(Message.objects.filter(template="invitation", channel="email"))


def _write_messages(templates: list[Any], n: int) -> list[int]:
    from signing.models import Message

    rows = [
        Message(
            envelope_id=t.envelope_id,
            party_id=t.party_id,
            channel=t.channel,
            recipient=t.recipient,
            template=Message.Template.REMINDER,
            subject=t.subject,
            body=t.body,
            html_body=t.html_body,
        )
        for i in range(n)
        for t in [templates[i % len(templates)]]
    ]
    return [m.pk for m in Message.objects.bulk_create(rows)]


def _drained(broker: Any) -> bool:
    return broker.llen("messages") == 0 and broker.hlen("unacked") == 0


def _wait(broker: Any, done: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not (_drained(broker) and done()):
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not finish within the time limit")
        time.sleep(0.01)


def _project_run(templates: list[Any], n: int, broker: Any) -> Any:
    from signing.models import Message
    from signing.tasks import deliver_message

    ids = _write_messages(templates, n)
    sent = Message.objects.filter(pk__in=ids, status=Message.Status.SENT)

    def run() -> None:
        for pk in ids:
            deliver_message.apply_async(args=(pk,), retry=False)
        _wait(broker, lambda: sent.count() == n)

    return run


def _floor_run(n: int, broker: Any) -> Any:
    from signflow.celery import app

    noop = _register_noop(app)

    def run() -> None:
        for _ in range(n):
            noop.apply_async(queue="messages", retry=False)
        _wait(broker, lambda: True)

    return run


def _measure(args: argparse.Namespace, templates: list[Any], broker: Any) -> Any:
    """Pairs (project, floor), each run with its own freshly written messages."""
    from _report import Pairs

    project: list[float] = []
    floor: list[float] = []
    for i in range(args.pairs + 1):
        run = _project_run(templates, args.n, broker)
        started = time.perf_counter()
        run()
        took_project = time.perf_counter() - started
        run = _floor_run(args.n, broker)
        started = time.perf_counter()
        run()
        took_floor = time.perf_counter() - started
        if i:  # the first pair warms the worker's child up
            project.append(took_project)
            floor.append(took_floor)
        print(f"  pair {i}: project {took_project:.2f} s, floor {took_floor:.2f} s", flush=True)
    return Pairs(project=project, floor=floor)


def _start(args: argparse.Namespace, work: Path, smtp_port: int) -> list[subprocess.Popen[bytes]]:
    processes = []
    if args.mail == "smtp":
        processes.append(
            subprocess.Popen([sys.executable, __file__, "--run-sink", str(smtp_port)], cwd=ROOT)
        )
    processes.append(
        subprocess.Popen(
            [sys.executable, __file__, "--run-worker", str(args.concurrency)],
            cwd=ROOT,
            env=dict(os.environ),
        )
    )
    while not (work / "ready").exists():
        time.sleep(0.2)
    return processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_messages"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--mail", choices=("file", "smtp", "locmem"), default="file")
    parser.add_argument("--run-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run-sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--time-limit", type=int, default=1500)
    args = parser.parse_args()
    if args.run_sink:
        run_sink(args.run_sink)
        return
    if args.run_worker:
        run_worker(args.run_worker)
        return
    work = Path(tempfile.mkdtemp(prefix="sf-bench-messages-"))
    smtp_port = _free_port()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_queue_latency import start_run, stop_workers

    start_run(args, _environment(args, work, smtp_port))
    templates = _setup(args.redis)
    import redis

    broker = redis.Redis.from_url(args.redis)
    processes = _start(args, work, smtp_port)
    try:
        pairs = _measure(args, templates, broker)
    finally:
        stop_workers(processes)
    from _report import report

    project_rate = args.n / statistics.median(pairs.project)
    floor_rate = args.n / statistics.median(pairs.floor)
    print(f"  {pairs.summary(unit=1.0)} (seconds per {args.n})", flush=True)
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    report(
        f"messages-{args.n}",
        project=project_rate,
        floor=floor_rate,
        ratio=1 / pairs.ratio,
        target=TARGET,
        unit="msg/s",
        higher_is_better=True,
    )


if __name__ == "__main__":
    main()
