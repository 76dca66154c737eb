"""A real Celery worker with fake providers, which a test may SIGKILL in the middle of a send
or a seal. Needs REDIS_URL and PostgreSQL, like tests/signing/test_worker.py."""

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client

from crm.models import Invoice
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
from tests.workers import ROOT, celery_off_eager, needs_worker, stop
from tests.workers import wait_for as workers_wait_for
from tests.workers import worker_env as _worker_env

__all__ = ["needs_worker"]  # the fault tests' marks are the worker tests' marks


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    return workers_wait_for(predicate, timeout=timeout, step=0.1)


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
        stop(self.processes)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    with celery_off_eager():
        pool = Workers(tmp_path / "provider.jsonl")
        try:
            yield pool
        finally:
            pool.stop_all()


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
