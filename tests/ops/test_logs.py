"""Structured logs: a whole flow (send, code, sign, seal) logs JSON lines with a request id and
never a link token or a code; a real worker's lines carry the id of the request that queued
the task (signflow/logging_setup.py, django-structlog)."""

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from crm.models import Invoice
from signflow.celery import app as celery_app
from signflow.logging_setup import capture_handler, redact_text
from signing.models import Envelope, Message
from tests.signing.conftest import CODE_RE, LINK_RE, send_form
from tests.signing.test_flow import _complete
from tests.workers import worker_env as _worker_env

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Zt1y0nE8Q2b6n5u3r4k7xq9w0e1r2t3y4u5i6o7p8aS"  # a link token's shape: 43 characters


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = capture_handler(lines.append)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


def _secrets(envelope: Envelope) -> tuple[set[str], set[str]]:
    tokens, codes = set(), set()
    for message in Message.objects.filter(envelope=envelope):
        tokens.update(LINK_RE.findall(message.body))
        if message.template == "code":
            codes.update(CODE_RE.findall(message.body))
    return tokens, codes


def test_redaction_masks_signer_paths_tokens_codes_and_secret_keys():
    assert redact_text(f"GET /s/{TOKEN}/code/ 200") == "GET /s/[redacted]/code/ 200"
    assert redact_text(f"token={TOKEN}&x=1") == "token=[redacted]&x=1"
    assert redact_text("Your code is 123456.") == "Your code is ******."
    # Hashes and ids are not tokens.
    digest = "a" * 64
    assert redact_text(f"sha256 {digest} message 42") == f"sha256 {digest} message 42"
    lines: list[str] = []
    handler = capture_handler(lines.append)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "sent %s", (TOKEN,), None)
    record.password = "hunter2"  # an `extra` that names a secret
    handler.handle(record)
    line = json.loads(lines[0])
    assert TOKEN not in lines[0] and "hunter2" not in lines[0]
    assert line["password"] == "[redacted]" and line["level"] == "warning"


@pytest.mark.django_db(transaction=True)
def test_a_whole_flow_logs_no_link_token_and_no_code(
    sender_client: Client, invoice: Invoice, log_lines: list[str]
):
    envelope = _complete(sender_client, invoice)
    assert envelope.status == Envelope.Status.COMPLETED
    tokens, codes = _secrets(envelope)
    assert len(tokens) >= 2 and len(codes) >= 2

    records = [json.loads(line) for line in log_lines]  # every line is one JSON object
    requests = [r for r in records if r.get("event") == "request_finished"]
    # The signer pages were logged (so redaction had something to do), each with its id.
    signer = [r for r in requests if "/s/[redacted]/" in r.get("request", "")]
    assert len(signer) >= 6, [r.get("request") for r in requests]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", r["request_id"]) for r in requests)
    for secret in tokens | codes:
        leaks = [line for line in log_lines if secret in line]
        assert not leaks, leaks[:3]


def test_the_answer_carries_its_request_id(client: Client, db):
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f-]{36}", response["X-Request-ID"])
    assert client.get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


@pytest.fixture
def logging_worker(tmp_path: Path, media_root: Path) -> Iterator[Path]:
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "signflow", "worker", "--pool=solo",
             "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=_worker_env(CELERY_WORKER="1", SIGNFLOW_LOG_FORMAT="json"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    yield log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    celery_app.conf.task_always_eager = True


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
    reason="needs REDIS_URL and PostgreSQL (make test in CI sets both)",
)
def test_the_request_id_follows_the_request_into_the_worker(
    sender_client: Client, invoice: Invoice, logging_worker: Path
):
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    response = sender_client.post(response["Location"], send_form())
    assert response.status_code == 302
    request_id = response["X-Request-ID"]
    invitation = Message.objects.get(template="invitation")

    def worker_lines() -> list[dict]:
        return [
            json.loads(line)
            for line in logging_worker.read_text().splitlines()
            if line.startswith("{")
        ]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = [r for r in worker_lines() if r.get("event") == "task_succeeded"]
        if done and Message.objects.filter(pk=invitation.pk, status="sent").exists():
            break
        time.sleep(0.2)
    lines = worker_lines()
    task_lines = [r for r in lines if r.get("task_id")]
    assert task_lines, logging_worker.read_text()[-3000:]
    delivery = [r for r in task_lines if r.get("request_id") == request_id]
    assert any(r["event"] == "task_started" for r in delivery), task_lines[:5]
    assert any(r["event"] == "task_succeeded" for r in delivery), task_lines[:5]
    token = LINK_RE.search(invitation.body)
    assert token and token.group(1) not in logging_worker.read_text()
