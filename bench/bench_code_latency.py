"""A code's way to the signer while reminders wait: from the POST on "Send me a code" to the SMS
handed to Twilio's client, with 100 reminders just queued (project) and with empty queues
(floor), in alternating pairs. Target: p95 under 2 s.

    .venv/bin/python bench/bench_code_latency.py [--pairs 20] [--reminders 100]
        [--layout split|shared] [--database postgres://postgres@127.0.0.1:5432/sf_bench_code]
        [--redis redis://127.0.0.1:6379/11]

Everything runs on 127.0.0.1. The script drops and recreates the database of --database and
empties the Redis database of --redis (use ones nothing else uses). Set-up: one sent envelope
per code to ask for, its director reached by SMS. The workers are bench_queue_latency.py's: real
Celery workers over Redis, laid out as in docker-compose.yml (`split`: one process on
`messages`, one on `sealing,previews,webhooks,bulk`) or one worker with both processes on every
queue (`shared`, `make worker`), with Twilio's real client answered by the tests' fake HTTP
client, which notes when each SMS is handed over.

Each pair: `--reminders` reminder SMS are written and their deliveries published on `bulk` (as
the reminder run does), then at once a director's browser POSTs "Send me a code" on the signer
page (Django's test client, in this process: the real view, its transaction and its on-commit
publish); once the reminders are all sent, another director asks with the queues empty.
Latency = SMS handed to Twilio's client minus the POST's start. Prints p50/p95/max of each and
one BENCH line: the p95 with reminders queued, the p95 with empty queues as its floor, and
PASS when the p95 is under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95 = 2.0


def _setup(codes: int) -> list[tuple[str, str]]:
    """(link token, phone) of `codes` directors reached by SMS, their set-up messages sent."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from _flow import demo_deal, new_invoice, send

    from signing import services
    from signing.models import Message

    deal = demo_deal()
    directors = []
    for i in range(codes):
        envelope = services.envelope_create_from_invoice(
            invoice=new_invoice(deal), actor=deal.responsible, language="fr"
        )
        phone = f"+336{20000000 + i:08d}"
        send(envelope, deal, director_phone=phone)
        invitation = Message.objects.get(envelope=envelope, recipient=phone)
        token = invitation.body.split("/s/")[1].split("/")[0]
        directors.append((token, phone))
    Message.objects.filter(status=Message.Status.QUEUED).update(status=Message.Status.SENT)
    return directors


def _queue_reminders(n: int) -> list[int]:
    """`n` reminder SMS written as the reminder run writes them, published on `bulk`."""
    from signing.models import Envelope, Message
    from signing.tasks import deliver_message

    envelope = Envelope.objects.order_by("id").first()
    rows = Message.objects.bulk_create(
        Message(
            envelope=envelope,
            channel="sms",
            recipient=f"+336{30000000 + i:08d}",
            template=Message.Template.REMINDER,
            body="Rappel : merci de signer le document https://signflow.example/s/x/",
            queue="bulk",
        )
        for i in range(n)
    )
    for row in rows:
        deliver_message.apply_async(args=(row.pk,), queue="bulk", retry=False)
    return [row.pk for row in rows]


def _ask_code(token: str, phone: str, sms_log: Path, timeout: float = 120.0) -> float:
    from bench_queue_latency import CODE_RE, _sms_log
    from django.test import Client

    started = time.time()
    response = Client(HTTP_USER_AGENT="bench").post(f"/s/{token}/code/send/")
    assert response.status_code == 302, response.status_code
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sms in _sms_log(sms_log):
            if sms["to"] == phone and sms["at"] >= started and CODE_RE.search(sms["body"]):
                return float(sms["at"] - started)
        time.sleep(0.02)
    return float("inf")


def _measure(args: argparse.Namespace, directors: list[tuple[str, str]], sms_log: Path) -> Any:
    from _report import Pairs

    from signing.models import Message

    loaded: list[float] = []
    empty: list[float] = []
    backlog: list[int] = []
    for i in range(args.pairs + 1):
        reminders = Message.objects.filter(pk__in=_queue_reminders(args.reminders))
        took = _ask_code(*directors[2 * i], sms_log)
        backlog.append(reminders.exclude(status=Message.Status.SENT).count())
        while reminders.exclude(status=Message.Status.SENT).exists():
            time.sleep(0.1)
        floor = _ask_code(*directors[2 * i + 1], sms_log)
        if i:  # the first pair warms both workers' children up
            loaded.append(took)
            empty.append(floor)
        print(f"  pair {i}: with reminders {took:.3f} s, empty {floor:.3f} s", flush=True)
    print(f"  reminders still unsent right after each code: {backlog[1:]}", flush=True)
    return Pairs(project=loaded, floor=empty)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--reminders", type=int, default=100)
    parser.add_argument("--layout", choices=("split", "shared"), default="split")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_code")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--time-limit", type=int, default=1500)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_queue_latency as queue_bench

    work = Path(tempfile.mkdtemp(prefix="sf-bench-code-"))
    queue_bench.start_run(args, queue_bench._environment(args, work))
    directors = _setup(2 * (args.pairs + 1))
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    layout = queue_bench.LAYOUTS[args.layout]
    script = str(ROOT / "bench" / "bench_queue_latency.py")
    workers = [
        subprocess.Popen([sys.executable, script, "--run-worker", name], cwd=ROOT, env=os.environ)
        for name in layout
    ]
    try:
        while not all((work / f"ready-{name}").exists() for name in layout):
            time.sleep(0.2)
        pairs = _measure(args, directors, Path(os.environ["BENCH_SMS_LOG"]))
    finally:
        queue_bench.stop_workers(workers)
    _print(args, pairs)


def _print(args: argparse.Namespace, pairs: Any) -> None:
    from _report import report

    for name, values in (("with reminders", pairs.project), ("empty queues", pairs.floor)):
        print(
            f"  {name}: p50 {statistics.median(values):.3f} s, p95 {_p95(values):.3f} s, "
            f"max {max(values):.3f} s ({len(values)} codes)",
            flush=True,
        )
    print(f"  layout {args.layout}; load average {os.getloadavg()[0]:.1f}", flush=True)
    p95 = _p95(pairs.project)
    report(
        f"code-sms-p95-{args.reminders}-reminders",
        project=p95 * 1000,
        floor=_p95(pairs.floor) * 1000,
        ratio=p95 / TARGET_P95,
        target=1.0,
    )


if __name__ == "__main__":
    main()
