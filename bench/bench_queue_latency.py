"""Code latency under load: from "request a code" to the SMS handed to Twilio's client, while
100 seals (then 100 reminders) wait in the queues. Target: p95 under 2 s.

    .venv/bin/python bench/bench_queue_latency.py [--seals 100] [--reminders 100] [--codes 30]
        [--database postgres://postgres@127.0.0.1:5432/sf_bench_queue]
        [--redis redis://127.0.0.1:6379/11] [--time-limit 1500]

Everything runs on 127.0.0.1. The script drops and recreates the database of --database and
empties the Redis database of --redis (use ones nothing else uses). Set-up, with no worker
running: `--seals` envelopes signed by both parties through the services (each queues its real
seal task on `sealing`), and `--reminders` envelopes sent to a director reached by SMS (their
invitations and set-up codes are cleared from the `messages` queue and marked sent).

Then two real Celery worker processes over Redis, laid out as in docker-compose.yml: one on
`messages` (concurrency 1), one on `sealing,previews,webhooks,bulk` (concurrency 1). Their
Twilio client is the tests' fake at the HTTP boundary (tests/faults/providers.py), which notes
the time each SMS is handed over.

1. With the seals queued: `--codes` directors ask for a code, one every 0.5 s, through the real
   service (signing.services.otp_send, as the signer page's POST does). Latency = SMS handed to
   Twilio's client minus the call's start. The seals' own completion messages (email with the
   PDF, SMS) share the `messages` queue meanwhile, as in production.
2. With the reminders queued: the reminder task runs (on `bulk`, as beat would queue it) and
   queues one reminder delivery per envelope; once they are all queued, other directors ask
   for codes the same way.

3. The floor: the seals and reminders still waiting are dropped from the broker, the task each
   worker holds finishes, then other directors ask for codes the same way, queues empty.

Prints p50/p95/max per scenario, the backlog seen while measuring, and PASS/MISS against the
2 s target, then one BENCH line (bench/_report.py), like bench_code_latency.py:
"code-sms-p95-100-seals", project = p95 with the seals queued, floor = p95 with empty queues,
ratio = project p95 / 2 s, target <= 1.00. A MISS is a result: the exit status is 0 unless
something failed. A hard time limit stops everything; the workers are stopped on the way out.

Measured 2026-11-30 with the defaults on a 2-core machine shared with other work (load average
4-5 while measuring; set-up 379 s): with 99 -> 85 seals queued, 30 codes p50 0.056 s, p95
0.151 s, max 0.177 s: PASS; with 100 -> 89 reminders queued, p50 0.079 s, p95 0.139 s, max
0.290 s: PASS. 27 of the 100 envelopes were sealed meanwhile (about 1.4 s of one process each).
The same two processes as one worker on every queue (`--layout shared`, load average 8): p50
50.9 s, p95 94.4 s with the seals queued, p50 87.3 s, p95 92.9 s with the reminders: MISS. The
codes' own worker is what keeps them under 2 s, not the number of processes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95 = 2.0
CODE_RE = re.compile(r"\b\d{6}\b")
# name -> (queues, processes). `split` is docker-compose.yml's layout; `shared` gives the same two
# processes to one worker on every queue (`make worker`), for comparison.
LAYOUTS = {
    "split": {"messages": ("messages", 1), "batch": ("sealing,previews,webhooks,bulk", 1)},
    "shared": {"all": ("messages,sealing,previews,webhooks,bulk", 2)},
}
QUEUES = ("messages", "sealing", "previews", "webhooks", "bulk")
WORKERS = {name: spec for layout in LAYOUTS.values() for name, spec in layout.items()}


def _environment(args: argparse.Namespace, work: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "signflow.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-queue-latency-secret-key-not-for-production",
        "DATABASE_URL": args.database,
        "REDIS_URL": args.redis,
        "SIGNFLOW_VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        # Twilio's real client, answered by the fake HTTP client installed in the workers.
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "bench-token",
        "TWILIO_FROM_NUMBER": "+33700000000",
        "FAULTS_PROVIDER_LOG": str(work / "provider.jsonl"),
        "BENCH_SMS_LOG": str(work / "sms.jsonl"),
        "BENCH_READY_DIR": str(work),
        "LOG_LEVEL": "WARNING",
        "SIGNFLOW_LOG_FORMAT": "console",
    }


# --- worker mode -------------------------------------------------------------------------------


def run_worker(name: str) -> None:
    """`bench_queue_latency.py --run-worker NAME`: a real Celery worker with the fake Twilio."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from celery.signals import worker_ready

    from signflow.celery import app
    from signing.sms import TwilioSMSBackend
    from tests.faults.providers import ProviderTwilioHttp

    class TimedTwilioHttp(ProviderTwilioHttp):
        """The tests' fake Twilio HTTP client, noting when each SMS is handed over."""

        def request(self, method: str, uri: str, **kwargs: Any) -> Any:
            at = time.time()
            data = kwargs.get("data") or {}
            with open(os.environ["BENCH_SMS_LOG"], "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"to": data.get("To"), "body": data.get("Body"), "at": at}))
                fh.write("\n")
            return super().request(method, uri, **kwargs)

    TwilioSMSBackend.http_client = TimedTwilioHttp()

    @worker_ready.connect
    def _ready(**_kwargs: Any) -> None:
        (Path(os.environ["BENCH_READY_DIR"]) / f"ready-{name}").touch()

    app.worker_main(
        ["worker", "-Q", WORKERS[name][0], "--pool=prefork", f"--concurrency={WORKERS[name][1]}", "-n",
         f"{name}@bench", "-l", "warning", "--without-gossip", "--without-mingle",
         "--without-heartbeat"]
    )  # fmt: skip


# --- set-up -------------------------------------------------------------------------------------


def _recreate_database(url: str) -> None:
    import dj_database_url

    db = dj_database_url.parse(url)
    base = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    subprocess.run(["dropdb", "--if-exists", *base, db["NAME"]], check=True)
    subprocess.run(["createdb", *base, db["NAME"]], check=True)


def _setup(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    import redis

    redis.Redis.from_url(args.redis).flushdb()

    from _flow import demo_deal, new_invoice, send

    from signing import demo, services
    from signing.models import Envelope, Message

    deal = demo_deal()

    def new_envelope(phone: str | None) -> Envelope:
        envelope = services.envelope_create_from_invoice(
            invoice=new_invoice(deal), actor=deal.responsible, language="fr"
        )
        send(envelope, deal, director_phone=phone or "")
        return envelope

    from verification.keys import get_key_material

    get_key_material()  # the seal keys exist before the first seal, as in production
    started = time.monotonic()
    for i in range(args.seals):
        envelope = new_envelope(None)
        parties = list(envelope.parties.order_by("order"))
        demo._sign(parties[0], typed_name=parties[0].name, stamp=demo._stamp())
        parties[1].refresh_from_db()
        demo._sign(parties[1], typed_name=parties[1].name, stamp=None)  # queues its seal task
        if i % 20 == 19:
            print(f"  {i + 1} envelopes signed, seals queued", flush=True)
    # One more than the reminders: the first one warms the messages worker up.
    waiting = [new_envelope(f"+336{10000000 + i:08d}") for i in range(args.reminders + 1)]
    print(f"set-up: {time.monotonic() - started:.0f} s", flush=True)

    # Set-up's own messages (invitations, codes) are not part of the measure.
    client = redis.Redis.from_url(args.redis)
    client.delete("messages")
    Message.objects.filter(status=Message.Status.QUEUED).update(status=Message.Status.SENT)
    assert client.llen("sealing") == args.seals, client.llen("sealing")
    return {
        "parties": [envelope.parties.get(role="company").pk for envelope in waiting],
        "envelopes": [envelope.pk for envelope in waiting],
    }


# --- measure ------------------------------------------------------------------------------------


def _sms_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _codes(
    party_ids: list[int], sms_log: Path, backlog: Any, timeout: float = 120.0
) -> tuple[list[float], list[int]]:
    """Ask for a code for each party, every 0.5 s; latencies from the call to Twilio's client."""
    from signing import services
    from signing.models import Party

    started: dict[str, float] = {}
    seen_backlog = []
    for party_id in party_ids:
        party = Party.objects.select_related("envelope").get(pk=party_id)
        seen_backlog.append(backlog())
        started[party.phone] = time.time()
        services.otp_send(party=party, ip="127.0.0.1", user_agent="bench")
        time.sleep(0.5)
    deadline = time.monotonic() + timeout
    latencies: dict[str, float] = {}
    while time.monotonic() < deadline and len(latencies) < len(started):
        for sms in _sms_log(sms_log):
            to = sms["to"]
            fresh = to in started and to not in latencies and sms["at"] >= started[to]
            if fresh and CODE_RE.search(sms["body"]):  # the code, not a reminder
                latencies[to] = sms["at"] - started[to]
        time.sleep(0.1)
    missing = len(started) - len(latencies)
    if missing:
        print(f"  {missing} code(s) never reached Twilio's client within {timeout:.0f} s")
    return sorted(latencies.values()) + [float("inf")] * missing, seen_backlog


def _p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _report(name: str, latencies: list[float], backlog: list[int], what: str) -> None:
    p50 = statistics.median(latencies)
    p95 = _p95(latencies)
    verdict = "PASS" if p95 < TARGET_P95 else "MISS"
    print(
        f"{name}: {len(latencies)} codes, p50 {p50:.3f} s, p95 {p95:.3f} s, "
        f"max {latencies[-1]:.3f} s; {what} while measuring: {max(backlog)} -> {min(backlog)}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"{verdict} (p95 < {TARGET_P95:.0f} s)",
        flush=True,
    )


def _floor(broker: Any, party_ids: list[int], sms_log: Path) -> float:
    """The same codes with empty queues: the seals and reminders still waiting are dropped from
    the broker, the task each worker holds finishes, then other directors ask for codes."""
    deadline = time.monotonic() + 300
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        busy = broker.hlen("unacked") + sum(broker.llen(queue) for queue in QUEUES)
        broker.delete(*QUEUES)
        quiet = 0 if busy else quiet + 1
        time.sleep(1)
    latencies, backlog = _codes(
        party_ids, sms_log, lambda: sum(broker.llen(queue) for queue in QUEUES)
    )
    _report("empty queues (floor)", latencies, backlog, "tasks in the queues")
    return _p95(latencies)


def _reminders(
    args: argparse.Namespace, envelope_ids: list[int], party_ids: list[int], sms_log: Path
) -> None:
    """The reminder run: one delivery per waiting envelope, queued on `bulk`; then codes."""
    from signing import tasks
    from signing.models import Envelope, Message

    Envelope.objects.filter(pk__in=envelope_ids).update(
        last_reminded_at=None,
        sent_at=django_now() - timedelta(days=2),
        status_changed_at=django_now() - timedelta(days=2),
    )
    tasks.send_reminders.apply_async()
    deadline = time.monotonic() + 300
    reminders = Message.objects.filter(template=Message.Template.REMINDER)
    while reminders.count() < args.reminders and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"{reminders.count()} reminders written and queued", flush=True)
    _report(
        "while reminders are queued",
        *_codes(party_ids, sms_log, lambda: reminders.filter(status=Message.Status.QUEUED).count()),
        "reminders not yet sent",
    )


def start_run(args: argparse.Namespace, environment: dict[str, str]) -> None:
    """What every worker bench does first: its environment, its time limit, a fresh database."""
    os.environ.update(environment)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"time limit ({args.time_limit} s)"))
    signal.alarm(args.time_limit)
    _recreate_database(args.database)


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for process in workers:
        process.terminate()
    for process in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seals", type=int, default=100)
    parser.add_argument("--reminders", type=int, default=100)
    parser.add_argument("--codes", type=int, default=30)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_queue")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--time-limit", type=int, default=1500)
    parser.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default="split",
        help="split: a worker on messages and one on the rest (compose); shared: one worker "
        "with the same two processes on every queue",
    )
    parser.add_argument("--run-worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_worker:
        run_worker(args.run_worker)
        return
    assert args.codes * 3 <= args.reminders, "each code needs its own waiting director"
    print(f"layout {args.layout}: {LAYOUTS[args.layout]}", flush=True)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)

    work = Path(tempfile.mkdtemp(prefix="sf-bench-queue-"))
    sys.path.insert(0, str(ROOT))
    start_run(args, _environment(args, work))
    state = _setup(args)

    from _report import report

    seals_p95, floor = _measure(args, state, work)
    report(
        f"code-sms-p95-{args.seals}-seals",
        project=seals_p95 * 1000,
        floor=floor * 1000,
        ratio=seals_p95 / TARGET_P95,
        target=1.0,
    )


def _measure(args: argparse.Namespace, state: dict[str, Any], work: Path) -> tuple[float, float]:
    """The workers started, the three scenarios; p95 with the seals queued, and empty."""
    import redis

    from signing.models import Envelope

    broker = redis.Redis.from_url(args.redis)
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--run-worker", name], cwd=ROOT, env=dict(os.environ)
        )
        for name in LAYOUTS[args.layout]
    ]
    try:
        while not all((work / f"ready-{name}").exists() for name in LAYOUTS[args.layout]):
            time.sleep(0.2)
        sms_log = Path(os.environ["BENCH_SMS_LOG"])
        warm, *parties = state["parties"]
        _codes([warm], sms_log, lambda: 0)  # imports and connections of the worker's child
        latencies, backlog = _codes(parties[: args.codes], sms_log, lambda: broker.llen("sealing"))
        _report("while seals are queued", latencies, backlog, "seal tasks in the queue")
        _reminders(args, state["envelopes"][1:], parties[args.codes : 2 * args.codes], sms_log)
        sealed = Envelope.objects.filter(status=Envelope.Status.COMPLETED).count()
        print(f"meanwhile {sealed} of {args.seals} envelopes were sealed")
        floor = _floor(broker, parties[2 * args.codes : 3 * args.codes], sms_log)
    finally:
        stop_workers(workers)
    return _p95(latencies), floor


def django_now() -> Any:
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    main()
