"""Load: envelopes sent and signed by concurrent users over gunicorn, PostgreSQL, Redis, a worker.

    .venv/bin/python bench/bench_load.py [--envelopes 200] [--users 50] [--port 18850]
        [--database postgres://postgres@127.0.0.1:5432/sf_bench_load]
        [--redis redis://127.0.0.1:6379/9] [--time-limit 1800] [--json results.json]

Everything runs on 127.0.0.1: the script drops and recreates the database named by --database
and empties the Redis database of --redis (use ones nothing else uses), seeds one company with
ten employees and one invoice per envelope, then starts gunicorn (2 workers), one Celery worker
(2 processes) and beat with DEBUG off. Each simulated user logs in as an employee, then takes
envelopes one after the other through the real pages: the employee sends the invoice, the
director opens the emailed link, asks for the code, types it and signs with a stamp, then the
client does the same from the SMS. Links and codes are read where a person would read them:
the email files (Django's file backend) and the SMS log (FileSMSBackend below), i.e. what the
providers were handed.

Afterwards it checks that every envelope is completed, every sealed PDF verifies as authentic,
every audit chain checks, and each party (and each employee) received exactly its messages;
then prints the throughput and p50/p95 of each step. A hard time limit stops everything; the
servers it started are stopped on the way out, whatever happened.

Measured 2026-11-30 with the defaults, on a 2-core machine shared with other work (load
average about 7 before the run): 200/200 completed in 714 s, 16.8 envelopes/min, 3100 HTTP
requests (4.3/s); every sealed PDF authentic, every chain intact, every inbox exact.
p50/p95 in seconds: employee sends 35/71, director opens the link 6.1/14, asks for the code
4.3/13, code delivered 0.12/20, signs 12/14; client signs 9.0/15; sealed and delivered after
the last signature 51/84; whole envelope 173/185. Two sync gunicorn workers serve 50 users,
so page times are mostly queueing; a code waits behind seals in the one Celery queue (p95).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import fcntl
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LINK_RE = re.compile(r"/s/([A-Za-z0-9_\-]+)/")
CODE_RE = re.compile(r"\b(\d{6})\b")
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FIELD_RE = re.compile(r"<input[^>]*\bname=\"(field-\d+)\"[^>]*>")
EMPLOYEES = 10
SEPARATOR = b"-" * 79 + b"\n"


class FileSMSBackend:
    """SMS provider for the bench: appends each SMS to BENCH_SMS_LOG (one JSON line each).

    Lives here so that gunicorn and the worker import it as `bench.bench_load.FileSMSBackend`.
    """

    def send(self, *, to: str, body: str) -> str:
        line = json.dumps({"to": to, "body": body, "at": time.time()}) + "\n"
        with open(os.environ["BENCH_SMS_LOG"], "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
            fh.flush()
        return f"bench-{secrets.token_hex(8)}"


# --- what the recipients received -------------------------------------------------------------


@dataclass
class Received:
    at: float
    text: str
    subject: str = ""
    attachments: int = 0


class Mailbox:
    """Reads the email files and the SMS log as they grow; indexed by recipient."""

    def __init__(self, mail_dir: Path, sms_log: Path) -> None:
        self.mail_dir = mail_dir
        self.sms_log = sms_log
        self.by_recipient: dict[str, list[Received]] = defaultdict(list)
        self.seen: dict[str, tuple[int, int]] = {}  # file name -> (size, messages read)
        self.sms_offset = 0
        self.changed = threading.Condition()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.scan()
            time.sleep(0.05)

    def scan(self) -> None:
        found: list[tuple[str, Received]] = []
        if self.mail_dir.exists():
            for entry in os.scandir(self.mail_dir):
                size = entry.stat().st_size
                known_size, known_count = self.seen.get(entry.name, (0, 0))
                if size == known_size:
                    continue
                data = Path(entry.path).read_bytes()
                if not data.endswith(SEPARATOR):
                    continue  # still being written
                parts = [raw for raw in data.split(b"\n" + SEPARATOR) if raw.strip()]
                self.seen[entry.name] = (len(data), len(parts))
                for raw in parts[known_count:]:
                    found.extend(self._email(raw))
        if self.sms_log.exists():
            with self.sms_log.open("rb") as fh:
                fh.seek(self.sms_offset)
                chunk = fh.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self.sms_offset += len(complete)
            for line in complete.splitlines():
                sms = json.loads(line)
                found.append((sms["to"], Received(at=sms["at"], text=sms["body"])))
        if found:
            with self.changed:
                for recipient, received in found:
                    self.by_recipient[recipient].append(received)
                self.changed.notify_all()

    @staticmethod
    def _email(raw: bytes) -> list[tuple[str, Received]]:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        attachments = len(list(message.iter_attachments()))
        received = Received(
            at=time.time(), text=text, subject=str(message["Subject"]), attachments=attachments
        )
        return [(to.strip(), received) for to in str(message["To"]).split(",")]

    def wait(self, recipient: str, count: int, deadline: float) -> Received:
        """The `count`-th message for `recipient`, once it arrives."""
        with self.changed:
            while len(self.by_recipient[recipient]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"message {count} to {recipient} never arrived")
                self.changed.wait(min(left, 1.0))
            return self.by_recipient[recipient][count - 1]


# --- the simulated users ----------------------------------------------------------------------


@dataclass
class Run:
    base: str
    mailbox: Mailbox
    deadline: float
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, step: str, started: float) -> None:
        with self.lock:
            self.timings[step].append(time.perf_counter() - started)


def _csrf(session: Any, html: str) -> str:
    match = CSRF_RE.search(html)
    return match.group(1) if match else session.cookies.get("csrftoken", "")


def _post(run: Run, session: Any, path: str, page: str, data: dict[str, Any], **kw: Any) -> Any:
    data = {**data, "csrfmiddlewaretoken": _csrf(session, page)}
    response = session.post(run.base + path, data=data, allow_redirects=False, timeout=120, **kw)
    with run.lock:
        run.requests += 1
    if response.status_code >= 500:
        raise RuntimeError(f"POST {path}: {response.status_code}")
    return response


def _get(run: Run, session: Any, path: str) -> Any:
    response = session.get(run.base + path, timeout=120)
    with run.lock:
        run.requests += 1
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")
    return response


def _login(run: Run, username: str) -> Any:
    import requests

    session = requests.Session()
    started = time.perf_counter()
    page = _get(run, session, "/login/").text
    response = _post(
        run, session, "/login/", page, {"username": username, "password": "pass-" + username}
    )
    if response.status_code != 302:
        raise RuntimeError(f"login of {username} failed: {response.status_code}")
    run.timed("employee logs in", started)
    return session


def _sign(run: Run, recipient: str, role: str, stamp: bytes | None) -> float:
    """Open the link, ask for the code, type it, sign. Returns when the sign POST answered."""
    import requests

    invitation = run.mailbox.wait(recipient, 1, run.deadline)
    match = LINK_RE.search(invitation.text)
    if not match:
        raise RuntimeError(f"no link in the invitation to {recipient}")
    token = match.group(1)
    session = requests.Session()
    started = time.perf_counter()
    page = _get(run, session, f"/s/{token}/").text
    run.timed(f"{role}: open the link", started)

    started = time.perf_counter()
    _post(run, session, f"/s/{token}/code/send/", page, {})
    run.timed(f"{role}: ask for the code", started)
    started = time.perf_counter()
    code_message = run.mailbox.wait(recipient, 2, run.deadline)
    run.timed(f"{role}: code delivered", started)
    code = CODE_RE.search(code_message.text)
    if not code:
        raise RuntimeError(f"no code in the message to {recipient}")

    started = time.perf_counter()
    _post(run, session, f"/s/{token}/code/", page, {"code": code.group(1)})
    page = _get(run, session, f"/s/{token}/").text
    run.timed(f"{role}: confirm the code", started)

    data: dict[str, Any] = {
        "signature-method": "typed",
        "signature-typed": "Claire Dubois" if role == "director" else "Paul Martin",
        "consent": "1",
    }
    for tag in FIELD_RE.finditer(page):
        name = tag.group(1)
        value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
        if 'type="checkbox"' in tag.group(0):
            data[name] = "1"
        else:
            data[name] = (value.group(1) if value else "") or "Bon pour accord"
    files = None
    if stamp is not None:
        data["stamp-method"] = "uploaded"
        files = {"stamp-file": ("stamp.png", stamp, "image/png")}
    started = time.perf_counter()
    response = _post(run, session, f"/s/{token}/sign/", page, data, files=files)
    after = _get(run, session, f"/s/{token}/").text
    signed_at = time.perf_counter()
    run.timed(f"{role}: sign", started)
    if response.status_code != 302 or "flash-error" in after:
        error = re.search(r'class="flash-error">([^<]*)<', after)
        raise RuntimeError(f"{role} could not sign: {error.group(1) if error else after[:300]}")
    return signed_at


def _journey(run: Run, employee: Any, job: dict[str, Any], stamp: bytes) -> None:
    started = time.perf_counter()
    response = _post(run, employee, f"/invoices/{job['invoice']}/send/", "", {})
    if response.status_code != 302:
        raise RuntimeError(f"send of invoice {job['invoice']}: {response.status_code}")
    form_path = response.headers["Location"]
    page = _get(run, employee, form_path).text
    response = _post(
        run,
        employee,
        form_path,
        page,
        {
            "company-name": "Claire Dubois",
            "company-email": job["director"],
            "company-phone": "",
            "company-channel": "email",
            "client-name": "Paul Martin",
            "client-email": "",
            "client-phone": job["client"],
            "client-channel": "sms",
            "language": "fr",
            "deadline_days": "30",
            "reminder_every_days": "3",
            "reminder_max": "3",
            "note": "",
        },
    )
    if response.status_code != 302:
        raise RuntimeError(f"send form of invoice {job['invoice']}: {response.status_code}")
    sent_at = time.perf_counter()
    run.timed("employee sends", started)

    run.mailbox.wait(job["director"], 1, run.deadline)
    run.timed("invitation delivered (email)", sent_at)
    director_signed = _sign(run, job["director"], "director", stamp)
    run.mailbox.wait(job["client"], 1, run.deadline)
    run.timed("invitation delivered (SMS)", director_signed)
    client_signed = _sign(run, job["client"], "client", None)
    run.mailbox.wait(job["client"], 3, run.deadline)
    run.timed("sealed and delivered", client_signed)
    run.timed("whole envelope", started)


def _user(run: Run, username: str, jobs: list[dict[str, Any]], stamp: bytes) -> None:
    try:
        employee = _login(run, username)
    except Exception as exc:  # noqa: BLE001 - reported with the results
        with run.lock:
            run.errors.append(f"{username}: {exc}")
        return
    while time.monotonic() < run.deadline:
        with run.lock:
            if not jobs:
                return
            job = jobs.pop(0)
        try:
            _journey(run, employee, job, stamp)
        except Exception as exc:  # noqa: BLE001 - reported with the results
            with run.lock:
                run.errors.append(f"invoice {job['invoice']}: {exc!r}")


# --- servers ----------------------------------------------------------------------------------


def _start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = (log_dir / f"{name}.log").open("wb")
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_http(url: str, deadline: float) -> None:
    import requests

    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer")


def _recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SystemExit(f"unexpected database name {name!r}")
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def _seed(envelopes: int, employees_count: int) -> list[dict[str, Any]]:
    from django.core.management import call_command

    from tests import factories

    call_command("migrate", verbosity=0)
    company = factories.make_company()
    employees = [
        factories.make_user(f"employe.{index:02d}", company=company)
        for index in range(employees_count)
    ]
    jobs = []
    for index in range(envelopes):
        counterparty = factories.make_counterparty(legal_name=f"Client {index:03d} SARL")
        deal = factories.make_deal(
            company=company,
            responsible=employees[index % employees_count],
            counterparty=counterparty,
        )
        invoice = factories.make_invoice(deal)
        jobs.append(
            {
                "invoice": invoice.pk,
                "employee": employees[index % employees_count].username,
                "director": f"direction+{index:03d}@atelier-lumiere.fr",
                "client": f"+3361{index:07d}",
            }
        )
    return jobs


# --- checks and report ------------------------------------------------------------------------


def _envelope_problems(envelope: Any, mailbox: Mailbox) -> list[str]:
    """A completed envelope's sealed PDF, audit chain and messages to each of its parties."""
    from signing import audit
    from signing.models import Message
    from verification.services import verify_pdf

    problems: list[str] = []
    label = f"envelope {envelope.public_id}"
    with envelope.sealed.file.open("rb") as fh:
        verification = verify_pdf(data=fh, sha256=envelope.sealed.sha256)
    if verification.verdict != "authentic":
        problems.append(
            f"{label}: sealed PDF verifies as {verification.verdict} {verification.reasons}"
        )
    if not audit.chain_check(envelope=envelope).ok:
        problems.append(f"{label}: audit chain broken")
    for party in envelope.parties.all():
        templates = sorted(
            Message.objects.filter(party=party, status=Message.Status.SENT).values_list(
                "template", flat=True
            )
        )
        if templates != ["code", "completed", "invitation"]:
            problems.append(f"{label}: {party.role} was sent {templates}")
        received = mailbox.by_recipient.get(party.recipient, [])
        if len(received) != 3:
            problems.append(f"{label}: {party.role} received {len(received)} messages")
        elif party.channel == "email" and received[2].attachments != 1:
            problems.append(f"{label}: the director's last email has no sealed PDF")
    return problems


def _check(jobs: list[dict[str, Any]], mailbox: Mailbox) -> list[str]:
    """Every envelope completed, sealed PDF authentic, chain intact, messages exactly once."""
    from django.contrib.auth.models import User

    from signing.models import Envelope, Message

    problems: list[str] = []
    # The last completion messages may still be in the outbox: let the worker finish them.
    until = time.monotonic() + 120
    pending = Message.objects.filter(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
    while pending.exists() and time.monotonic() < until:
        time.sleep(1)
    time.sleep(1)
    mailbox.scan()
    envelopes = list(
        Envelope.objects.filter(document__invoice_id__in=[job["invoice"] for job in jobs])
        .select_related("sealed", "responsible", "document")
        .prefetch_related("parties")
    )
    if len(envelopes) != len(jobs):
        problems.append(f"{len(jobs) - len(envelopes)} invoices were never sent")
    by_employee: dict[str, int] = defaultdict(int)
    for envelope in envelopes:
        label = f"envelope {envelope.public_id}"
        if envelope.status != Envelope.Status.COMPLETED or envelope.sealed is None:
            problems.append(f"{label}: {envelope.status} {envelope.sealing_error}")
            continue
        by_employee[envelope.responsible.email] += 1
        problems += _envelope_problems(envelope, mailbox)
    # The sender hears of each envelope twice: the director signed, then everyone signed.
    for user in User.objects.filter(email__in=list(by_employee)):
        templates = sorted(
            Message.objects.filter(recipient=user.email, status=Message.Status.SENT).values_list(
                "template", flat=True
            )
        )
        expected = sorted(["completed", "party_signed"] * by_employee[user.email])
        received = mailbox.by_recipient.get(user.email, [])
        if templates != expected or len(received) != len(expected):
            problems.append(
                f"{user.username} was sent {len(templates)} and received {len(received)} "
                f"messages, expected {len(expected)}"
            )
    return problems


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _report(run: Run, jobs: int, wall: float, completed: int, users: int) -> dict[str, Any]:
    steps = {
        step: {
            "n": len(values),
            "p50_ms": round(statistics.median(values) * 1000),
            "p95_ms": round(_percentile(values, 0.95) * 1000),
        }
        for step, values in run.timings.items()
    }
    result = {
        "envelopes": jobs,
        "users": users,
        "completed": completed,
        "wall_seconds": round(wall, 1),
        "envelopes_per_minute": round(completed / wall * 60, 1) if wall else 0,
        "seconds_per_envelope": round(wall / completed, 2) if completed else None,
        "http_requests": run.requests,
        "http_requests_per_second": round(run.requests / wall, 1) if wall else 0,
        "steps": steps,
        "errors": run.errors[:20],
    }
    print(f"\n{completed}/{jobs} envelopes completed by {users} users in {wall:.0f} s")
    print(
        f"throughput: {result['envelopes_per_minute']} envelopes/min "
        f"({result['seconds_per_envelope']} s each), "
        f"{result['http_requests_per_second']} HTTP requests/s"
    )
    print(f"\n{'step':<32}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}")
    for step, row in steps.items():
        print(f"{step:<32}{row['n']:>6}{row['p50_ms']:>10}{row['p95_ms']:>10}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--port", type=int, default=18850)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/sf_bench_load")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--time-limit", type=float, default=1800, help="hard stop, seconds")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench-load"))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    hard_stop = time.monotonic() + args.time_limit

    var_dir = Path(args.var_dir)
    subprocess.run(["rm", "-rf", str(var_dir)], check=True)
    (var_dir / "mail").mkdir(parents=True)
    sms_log = var_dir / "sms.jsonl"
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "signflow.settings",
        "DEBUG": "0",
        # Fixed, so that the sealed files can be checked again after the run.
        "SECRET_KEY": "bench-load-not-a-secret-0123456789abcdef0123456789",
        "DATABASE_URL": args.database,
        "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": args.redis,
        "SIGNFLOW_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(var_dir / "media"),
        "SIGNFLOW_BASE_URL": base,
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "SMS_BACKEND": "bench.bench_load.FileSMSBackend",
        "BENCH_SMS_LOG": str(sms_log),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import django
    import redis

    try:
        redis.Redis.from_url(args.redis, socket_connect_timeout=2).ping()
        _recreate_database(args.database)
    except Exception as exc:  # noqa: BLE001 - e.g. `make bench` on a machine without them
        print(f"bench_load skipped: needs PostgreSQL and Redis on 127.0.0.1 ({exc})")
        return
    print(f"Recreated {args.database}; emptying {args.redis} ...", flush=True)
    redis.Redis.from_url(args.redis).flushdb()
    django.setup()
    users = min(args.users, args.envelopes)
    employees_count = min(EMPLOYEES, users)
    jobs = _seed(args.envelopes, employees_count)
    from django.db import connections

    connections.close_all()
    from tests.signing.conftest import stamp_png

    stamp = stamp_png()

    python = sys.executable
    processes: list[subprocess.Popen] = []
    mailbox = Mailbox(var_dir / "mail", sms_log)
    try:
        processes.append(
            _start(
                "gunicorn",
                [python, "-m", "gunicorn", "signflow.wsgi", "-w", "2", "-b", base[7:]]
                + ["--timeout", "120", "--graceful-timeout", "5"],
                env,
                var_dir,
            )
        )
        processes.append(
            _start(
                "worker",
                [python, "-m", "celery", "-A", "signflow", "worker", "--concurrency", "2"]
                + ["-l", "warning", "--without-gossip", "--without-mingle"],
                env,
                var_dir,
            )
        )
        processes.append(
            _start(
                "beat",
                [python, "-m", "celery", "-A", "signflow", "beat", "-l", "warning"]
                + ["-s", str(var_dir / "beat-schedule")],
                env,
                var_dir,
            )
        )
        _wait_http(base + "/healthz", min(hard_stop, time.monotonic() + 60))
        threading.Thread(target=mailbox.run, daemon=True).start()

        run = Run(base=base, mailbox=mailbox, deadline=hard_stop)
        # An employee sends only their own invoices: users sharing an employee share a queue.
        queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for job in jobs:
            queues[job["employee"]].append(job)
        threads = []
        for index in range(users):
            username = f"employe.{index % employees_count:02d}"
            threads.append(
                threading.Thread(
                    target=_user, args=(run, username, queues[username], stamp), daemon=True
                )
            )
        print(f"{len(jobs)} envelopes, {users} users, hard stop in {args.time_limit:.0f} s")
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, hard_stop - time.monotonic()))
        wall = time.monotonic() - started
        # Completion emails to the employees go out with the others; give the outbox a moment.
        time.sleep(2)
        mailbox.scan()

        from signing.models import Envelope

        completed = Envelope.objects.filter(
            document__invoice_id__in=[job["invoice"] for job in jobs],
            status=Envelope.Status.COMPLETED,
        ).count()
        result = _report(run, len(jobs), wall, completed, users)
        print("\nChecking every envelope, sealed PDF, audit chain and inbox ...", flush=True)
        problems = _check(jobs, mailbox)
        result["problems"] = problems[:50]
        if run.errors:
            print(f"{len(run.errors)} journeys failed, first: {run.errors[:3]}")
        if problems:
            print(f"{len(problems)} problems, first: {problems[:10]}")
        else:
            print(
                "All envelopes completed; every sealed PDF authentic, every chain intact, "
                "each party received exactly its messages."
            )
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        if problems or run.errors:
            raise SystemExit(1)
    finally:
        mailbox.stop.set()
        _stop(processes)


if __name__ == "__main__":
    main()
