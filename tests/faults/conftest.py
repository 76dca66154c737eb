"""A real Celery worker with fake providers, which a test may SIGKILL in the middle of a send
or a seal. Needs REDIS_URL and PostgreSQL, like tests/signing/test_worker.py."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from crm.models import Invoice
from signflow.celery import app as celery_app
from signing import images, services
from signing.models import Envelope, Party
from tests.signing.conftest import (  # noqa: F401  (fixtures)
    code_in,
    invoice,
    last_message,
    media_root,
    send_form,
    sent_envelope,
    stamp_png,
)
from tests.signing.test_worker import _worker_env

ROOT = Path(__file__).resolve().parents[2]

needs_worker = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
        reason="needs REDIS_URL and PostgreSQL (make test in CI sets both)",
    ),
]


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class Workers:
    """Starts fault workers (tests/faults/fault_worker.py) and stops whatever is left."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def blocked(self) -> Path:
        return self.log.with_suffix(".blocked")

    def start(self, block: str = "") -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.fault_worker"],
            cwd=ROOT,
            env=_worker_env(
                CELERY_WORKER="1", FAULTS_BLOCK=block, FAULTS_PROVIDER_LOG=str(self.log)
            ),
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=20)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    pool = Workers(tmp_path / "provider.jsonl")
    yield pool
    pool.stop_all()
    celery_app.conf.task_always_eager = True


def sign_as(party: Party) -> None:
    """Confirm the code the worker sent and sign every field of the party, as a signer would."""
    services.otp_send(party=party, ip="198.51.100.7", user_agent="faults")
    code = code_in(last_message(template="code", recipient=party.recipient))
    services.otp_confirm(party=party, code=code, ip="198.51.100.7", user_agent="faults")
    values: dict[int, services.SubmittedValue] = {}
    for field in party.envelope.document.fields.filter(role=party.role):
        if field.kind in {"signature", "initials"}:
            values[field.pk] = services.SubmittedValue(
                image=images.typed_signature(party.name), method="typed"
            )
        elif field.kind == "stamp":
            values[field.pk] = services.SubmittedValue(
                image=images.uploaded_image(stamp_png(), keep_colour=True), method="uploaded"
            )
        elif field.kind != "date":
            values[field.pk] = services.SubmittedValue(
                text=field.phrase or field.prefilled or "Bon pour accord", method="typed"
            )
    services.party_sign(
        party=Party.objects.select_related("envelope").get(pk=party.pk),
        values=values,
        consent=True,
        code_confirmed_in_session=True,
        ip="198.51.100.7",
        user_agent="faults",
    )


def send_invoice(sender_client: Client, to_send: Invoice, *, channel: str = "email") -> Envelope:
    """Send the invoice for signature through the pages; the director is reached by `channel`."""
    overrides = {"company-channel": channel}
    if channel == "sms":
        overrides["company-phone"] = "06 12 34 56 78"
    response = sender_client.post(f"/invoices/{to_send.pk}/send/")
    assert response.status_code == 302
    response = sender_client.post(response["Location"], send_form(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Envelope.objects.get(document__invoice=to_send)
