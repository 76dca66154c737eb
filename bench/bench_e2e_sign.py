"""From the client's "Sign" to the sealed PDF in their inbox: the POST on the signer page to the
completion email, carrying the sealed PDF, handed to the mail provider by a real worker.

    .venv/bin/python bench/bench_e2e_sign.py [--pairs 5]
        [--database postgres://postgres@127.0.0.1:5432/sf_bench_e2e]
        [--redis redis://127.0.0.1:6379/11]

Everything runs on 127.0.0.1. The script drops and recreates the database of --database and
empties the Redis database of --redis (use ones nothing else uses). Set-up, with no worker
running: envelopes of the demo deal sent by email, the director signed (services), and for half
of them the client's browser (Django's test client) has opened the link and confirmed its code;
the other half have both signatures and wait in `sealing` with their seal task dropped.

The workers are bench_queue_latency.py's, laid out as in docker-compose.yml (one process on
`messages`, one on `sealing,previews,webhooks,bulk`); their email backend notes when each email
is handed over and whether it carries a PDF.

Pairs, alternating: project = the client's POST on "Sign" (the real view in this process, its
on-commit seal task on `sealing`) until the completion email with the sealed PDF reaches the
client's provider; floor = `envelope_seal` of a waiting envelope in this process, timed alone:
the seal is the one step of the path that cannot be skipped, so the rest (the POST, two queue
hops, rendering and sending the email) is what SignFlow adds. Target: at most 1.5 x the seal
(a queue hop and an email are tens of milliseconds next to a seal's hundreds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5


class TimedEmailBackend(BaseEmailBackend):
    """The provider boundary of the workers: notes recipient, time and whether a PDF rides."""

    def send_messages(self, email_messages: Any) -> int:
        with open(os.environ["BENCH_MAIL_LOG"], "a", encoding="utf-8") as fh:
            for message in email_messages:
                pdf = any(a[2] == "application/pdf" for a in message.attachments)
                entry = {"to": message.to[0], "at": time.time(), "pdf": pdf}
                fh.write(json.dumps(entry) + "\n")
        return len(email_messages)


def _mail_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _client_ready(envelope: Any) -> tuple[Any, str]:
    """The client's browser with the code confirmed: (test client, link token)."""
    from django.test import Client

    from signing.models import Message

    invitation = Message.objects.filter(envelope=envelope, party__role="client").latest("id")
    token = invitation.body.split("/s/")[1].split("/")[0]
    browser = Client(HTTP_USER_AGENT="bench")
    assert browser.get(f"/s/{token}/").status_code == 200
    browser.post(f"/s/{token}/code/send/")
    code = Message.objects.filter(envelope=envelope, template="code").latest("id")
    digits = re.search(r"\b\d{6}\b", code.body)
    assert digits, code.body
    browser.post(f"/s/{token}/code/", {"code": digits.group(0)})
    return browser, token


def _sign_form(envelope: Any) -> dict[str, str]:
    data = {"signature-method": "typed", "signature-typed": "Paul Martin", "consent": "1"}
    for field in envelope.document.fields.filter(role="client"):
        if not field.is_image and field.kind != "date":
            data[f"field-{field.pk}"] = field.phrase or field.prefilled or "Bon pour accord"
    return data


def _setup(count: int) -> tuple[list[Any], list[int]]:
    """`count` envelopes whose client is ready to sign, `count` waiting for their seal."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from _flow import demo_deal, new_invoice, send

    from signing import demo, services
    from verification.keys import get_key_material

    get_key_material()
    deal = demo_deal()
    ready, waiting = [], []
    for i in range(2 * count):
        envelope = services.envelope_create_from_invoice(
            invoice=new_invoice(deal), actor=deal.responsible, language="fr"
        )
        send(envelope, deal)
        director, client = list(envelope.parties.order_by("order"))
        demo._sign(director, typed_name=director.name, stamp=demo._stamp())
        if i % 2:
            client.refresh_from_db()
            demo._sign(client, typed_name=client.name, stamp=None)
            waiting.append(envelope.pk)
        else:
            ready.append((envelope, *_client_ready(envelope)))
    return ready, waiting


def _project(ready: tuple[Any, Any, str], log: Path, timeout: float = 300.0) -> float:
    envelope, browser, token = ready
    client_email = envelope.parties.get(role="client").email
    started = time.time()
    response = browser.post(f"/s/{token}/sign/", _sign_form(envelope))
    assert response.status_code == 302, response.content[:500]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in _mail_log(log):
            if mail["to"] == client_email and mail["pdf"] and mail["at"] >= started:
                return float(mail["at"] - started)
        time.sleep(0.02)
    return float("inf")


def _floor(envelope_id: int) -> float:
    from signing import services

    started = time.time()
    services.envelope_seal(envelope_id=envelope_id)
    return time.time() - started


def _quiet() -> None:
    """Wait until the previous run's messages are all out (one email in flight at a time)."""
    from signing.models import Message

    while Message.objects.exclude(status__in=["sent", "failed"]).exists():
        time.sleep(0.1)


def _measure(ready: list[Any], waiting: list[int], log: Path) -> Any:
    from _report import Pairs

    project: list[float] = []
    floor: list[float] = []
    for i, (one, other) in enumerate(zip(ready, waiting, strict=True)):
        _quiet()
        took = _project(one, log)
        _quiet()
        sealed = _floor(other)
        if i:  # the first pair warms the workers' children up
            project.append(took)
            floor.append(sealed)
        print(f"  pair {i}: sign to email {took:.3f} s, seal alone {sealed:.3f} s", flush=True)
    return Pairs(project=project, floor=floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_e2e")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--time-limit", type=int, default=1500)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_queue_latency as queue_bench

    work = Path(tempfile.mkdtemp(prefix="sf-bench-e2e-"))
    environment = queue_bench._environment(args, work)
    environment.update(
        EMAIL_BACKEND="bench_e2e_sign.TimedEmailBackend", BENCH_MAIL_LOG=str(work / "mail.jsonl")
    )
    queue_bench.start_run(args, environment)
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    ready, waiting = _setup(args.pairs + 1)
    # The set-up's own tasks (invitations, codes, the waiting envelopes' seals) are not measured.
    redis.Redis.from_url(args.redis).flushdb()
    from signing.models import Message

    Message.objects.filter(status=Message.Status.QUEUED).update(status=Message.Status.SENT)
    layout = queue_bench.LAYOUTS["split"]
    script = str(ROOT / "bench" / "bench_queue_latency.py")
    workers = [
        subprocess.Popen([sys.executable, script, "--run-worker", name], cwd=ROOT, env=os.environ)
        for name in layout
    ]
    try:
        while not all((work / f"ready-{name}").exists() for name in layout):
            time.sleep(0.2)
        pairs = _measure(ready, waiting, work / "mail.jsonl")
    finally:
        queue_bench.stop_workers(workers)
    _print(pairs)


def _print(pairs: Any) -> None:
    import statistics

    from _report import report

    print(f"  {pairs.summary()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    report(
        "sign-to-sealed-email",
        project=statistics.median(pairs.project) * 1000,
        floor=statistics.median(pairs.floor) * 1000,
        ratio=pairs.ratio,
        target=TARGET,
    )


if __name__ == "__main__":
    main()
