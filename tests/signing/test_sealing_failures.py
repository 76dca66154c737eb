"""Sealing failures are honest: what failed (the document, the seal key, the TSA, the storage),
temporary ones retried with backoff without flattening again, permanent ones shown and told."""

import asyncio
import datetime
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.utils import timezone

import documents.flatten
from signing import services, tasks
from signing.models import Envelope, Event, Message, Party
from tests.signing.conftest import last_message, link_token
from verification import keys
from verification.models import SealedDocument
from verification.services import prepared_path, verify_pdf

PORTS = range(18950, 19000)


class FakeTSA:
    """An RFC 3161 server on loopback: answers 500 while down, real tokens once up.

    The tokens come from pyHanko's in-process TSA with SignFlow's own TSA key, so the sealed
    file validates as with the built-in TSA; only the transport (HTTP) is what is tested.
    """

    def __init__(self) -> None:
        self.up = False
        self.garbage = False  # up, but answering bytes that are no timestamp response
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                from asn1crypto import tsp

                fake.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not fake.up:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"TSA down")
                    return
                if fake.garbage:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    self.wfile.write(b"<html>captive portal</html>")
                    return
                answer = asyncio.run(
                    fake.stamper().async_request_tsa_response(tsp.TimeStampReq.load(body))
                )
                data = answer.dump()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:  # pragma: no cover - every port of the range taken
            raise RuntimeError("no free port for the fake TSA")
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stamper(self) -> Any:
        from pyhanko.sign.timestamps import DummyTimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        material = keys.get_key_material()
        return DummyTimeStamper(
            tsa_cert=keys.to_asn1_cert(material.tsa_cert),
            tsa_key=keys.to_asn1_key(material.tsa_key),
            certs_to_embed=SimpleCertificateStore.from_certs(
                [keys.to_asn1_cert(material.root_cert)]
            ),
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "keys"


@pytest.fixture(autouse=True)
def seal_settings(settings: Any, keys_dir: Path) -> None:
    settings.SIGNFLOW_KEYS_DIR = keys_dir
    settings.TSA_URL = ""
    settings.SEAL_PKCS12_PATH = ""


@pytest.fixture
def fake_tsa(settings: Any) -> Iterator[FakeTSA]:
    tsa = FakeTSA()
    settings.TSA_URL = tsa.url
    settings.TSA_TIMEOUT = 5
    yield tsa
    tsa.stop()


@pytest.fixture
def flatten_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A spy on the flattening step (the slow part a TSA retry must not repeat)."""
    calls: list[int] = []
    real = documents.flatten.flatten_pdf

    def spy(**kwargs: Any) -> bytes:
        calls.append(kwargs["document"].pk)
        return real(**kwargs)

    monkeypatch.setattr(documents.flatten, "flatten_pdf", spy)
    return calls


@pytest.fixture
def sealing(sent_envelope: Envelope) -> Envelope:
    """Every party signed: the envelope waits for its seal (what party_sign leaves behind)."""
    now = timezone.now()
    sent_envelope.parties.update(status=Party.Status.SIGNED, signed_at=now)
    Envelope.objects.filter(pk=sent_envelope.pk).update(
        status=Envelope.Status.SEALING, status_changed_at=now
    )
    sent_envelope.refresh_from_db()
    return sent_envelope


def _failed_events(envelope: Envelope) -> list[Event]:
    return list(envelope.events.filter(type=Event.Type.SEALING_FAILED).order_by("id"))


def _sender_messages(envelope: Envelope, sender: User) -> list[Message]:
    return list(
        Message.objects.filter(
            envelope=envelope, template=Message.Template.SEALING_FAILED, recipient=sender.email
        )
    )


def _sweep_at(moment: datetime.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return tasks.sweep_sealing()


def test_a_tsa_failure_backs_off_reuses_the_prepared_file_and_completes_when_the_tsa_is_back(
    sealing: Envelope,
    fake_tsa: FakeTSA,
    flatten_calls: list[int],
    sender: User,
    sender_client: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    start = timezone.now()
    assert _sweep_at(start) == 1

    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == ("tsa", "tsa_unreachable")
    assert fake_tsa.url in sealing.sealing_error
    assert sealing.sealing_attempts == 1
    assert sealing.seal_next_attempt_at == start + datetime.timedelta(minutes=1)
    assert flatten_calls == [sealing.document_id]
    assert fake_tsa.requests >= 1
    events = _failed_events(sealing)
    assert [e.data["kind"] for e in events] == ["tsa"]
    assert events[0].data["permanent"] is False
    assert not _sender_messages(sealing, sender)  # a temporary failure is not news yet
    prepared = sealing.seal_prepared
    assert default_storage.exists(prepared_path(prepared["sha256"]))

    # The page says what failed: the timestamp authority, and that it is retried.
    page = sender_client.get(f"/envelopes/{sealing.pk}/").content.decode()
    assert 'data-kind="tsa"' in page
    assert "timestamp authority" in page
    assert "Retry sealing" not in page

    # A sweep before the due time touches nothing: no flattening, no TSA call, no attempt.
    asked = fake_tsa.requests
    assert _sweep_at(start + datetime.timedelta(seconds=30)) == 0
    sealing.refresh_from_db()
    assert sealing.sealing_attempts == 1
    assert fake_tsa.requests == asked
    assert len(flatten_calls) == 1

    # Due: tried again with the prepared file (not flattened again), backoff doubles.
    second = start + datetime.timedelta(minutes=1, seconds=1)
    assert _sweep_at(second) == 1
    sealing.refresh_from_db()
    assert sealing.sealing_attempts == 2
    assert sealing.seal_next_attempt_at == second + datetime.timedelta(minutes=2)
    assert sealing.seal_prepared == prepared
    assert len(flatten_calls) == 1
    assert fake_tsa.requests > asked

    # The TSA is back: the next due sweep seals the same prepared file and completes.
    fake_tsa.up = True
    with django_capture_on_commit_callbacks(execute=True):  # the prepared file goes on commit
        assert _sweep_at(second + datetime.timedelta(minutes=2, seconds=1)) == 1
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.COMPLETED
    assert len(flatten_calls) == 1
    assert sealing.sealing_error_code == ""
    assert sealing.seal_prepared == {}
    assert not default_storage.exists(prepared_path(prepared["sha256"]))
    sealed = SealedDocument.objects.get(code=sealing.public_id)
    assert sealed.tsa_name == fake_tsa.url
    with sealed.file.open("rb") as fh:
        assert verify_pdf(data=fh.read(), with_diff=False).verdict == "authentic"
    assert sealing.events.filter(type=Event.Type.SEALED).count() == 1
    assert not _sender_messages(sealing, sender)


def test_a_tsa_down_for_a_day_ends_in_sealing_failed_and_tells_the_sender_once(
    sealing: Envelope, fake_tsa: FakeTSA, sender: User
) -> None:
    start = timezone.now()
    _sweep_at(start)
    _sweep_at(start + datetime.timedelta(hours=24, minutes=1))
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING_FAILED
    assert sealing.sealing_error_kind == "tsa"
    assert _failed_events(sealing)[-1].data["final"] is True
    assert len(_sender_messages(sealing, sender)) == 1
    # Later sweeps leave it alone.
    assert _sweep_at(start + datetime.timedelta(hours=30)) == 0
    assert len(_sender_messages(sealing, sender)) == 1


def test_a_tsa_answering_something_else_is_a_bad_answer_and_retried(
    sealing: Envelope, fake_tsa: FakeTSA, sender: User
) -> None:
    fake_tsa.up = fake_tsa.garbage = True
    _sweep_at(timezone.now())
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == ("tsa", "tsa_bad_answer")
    assert sealing.seal_next_attempt_at is not None
    assert not _sender_messages(sealing, sender)


def test_the_backoff_doubles_up_to_an_hour(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verification import services as verification_services
    from verification.services import SealingError

    def unreachable(**kwargs: Any) -> Any:
        raise SealingError("tsa_unreachable", "connection refused")

    monkeypatch.setattr(verification_services, "seal_prepared", unreachable)
    moment = timezone.now()
    delays = []
    for _ in range(9):
        _sweep_at(moment)
        sealing.refresh_from_db()
        assert sealing.seal_next_attempt_at is not None
        delays.append((sealing.seal_next_attempt_at - moment) / datetime.timedelta(minutes=1))
        moment = sealing.seal_next_attempt_at
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert sealing.status == Envelope.Status.SEALING


def _break_flattening(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: Any) -> bytes:
        raise ValueError("a value belongs to a field of another document")

    monkeypatch.setattr(documents.flatten, "flatten_pdf", broken)


def test_a_flattening_error_fails_at_once_tells_the_sender_and_shows_what_to_do(
    sealing: Envelope,
    monkeypatch: pytest.MonkeyPatch,
    sender: User,
    sender_client: Client,
) -> None:
    _break_flattening(monkeypatch)
    services.envelope_seal(envelope_id=sealing.pk)
    services.envelope_seal(envelope_id=sealing.pk)  # a second task finds nothing to do

    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING_FAILED
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == (
        "input",
        "input_flatten_failed",
    )
    assert sealing.sealing_attempts == 1
    events = _failed_events(sealing)
    assert len(events) == 1
    assert events[0].data["final"] is True and events[0].data["kind"] == "input"
    messages = _sender_messages(sealing, sender)
    assert len(messages) == 1
    assert messages[0].channel == "email"
    assert "could not seal" in messages[0].body  # the envelope is in English (send_form)
    assert "send a new version" in messages[0].body
    assert f"/envelopes/{sealing.pk}/" in messages[0].body
    assert not SealedDocument.objects.exists()

    page = sender_client.get(f"/envelopes/{sealing.pk}/").content.decode()
    assert 'data-kind="input"' in page
    assert "the document" in page
    assert "send a new version of the document for signature" in page
    assert f"/envelopes/{sealing.pk}/cancel/" in page
    assert f"/envelopes/{sealing.pk}/retry-sealing/" in page

    # The board keeps it with the signed ones (everyone signed), marked in red.
    board = sender_client.get("/board/").content.decode()
    signed_column = board[board.index('id="column-signed"') : board.index('id="column-not_signed"')]
    assert f'id="card-{sealing.pk}"' in signed_column
    assert 'data-marker="sealing-failed"' in signed_column


def test_the_message_to_the_sender_speaks_french_for_a_french_envelope(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, sender: User
) -> None:
    Envelope.objects.filter(pk=sealing.pk).update(language="fr")
    _break_flattening(monkeypatch)
    services.envelope_seal(envelope_id=sealing.pk)
    (message,) = _sender_messages(sealing, sender)
    assert "Échec du scellement" in message.subject
    assert "envoyez une nouvelle version" in message.body
    assert "Ce qui a échoué : le document" in message.body


def test_a_base_pdf_already_certified_is_an_input_error(sealing: Envelope, sender: User) -> None:
    from verification import pades

    document = sealing.document
    with document.pdf.open("rb") as fh:
        original = fh.read()
    certified = pades.sign(
        pdf_bytes=original,
        material=keys.get_key_material(),
        reason="already certified elsewhere",
        location="elsewhere",
        stamp_text="other",
        seal_box=None,
    ).pdf
    document.pdf.save("certified.pdf", ContentFile(certified), save=True)

    services.envelope_seal(envelope_id=sealing.pk)
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING_FAILED
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == (
        "input",
        "input_already_signed",
    )
    assert len(_sender_messages(sealing, sender)) == 1


def test_an_unusable_seal_key_is_a_signer_error(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, sender_client: Client
) -> None:
    def broken() -> Any:
        raise keys.KeysError("Cannot load SEAL_PKCS12_PATH: wrong password")

    monkeypatch.setattr(keys, "get_key_material", broken)
    services.envelope_seal(envelope_id=sealing.pk)
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING_FAILED
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == ("signer", "signer_keys")
    page = sender_client.get(f"/envelopes/{sealing.pk}/").content.decode()
    assert "Contact your administrator" in page
    assert "the seal certificate" in page


def test_retry_sealing_moves_it_back_and_seals(
    sealing: Envelope,
    monkeypatch: pytest.MonkeyPatch,
    sender: User,
    sender_client: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _break_flattening(monkeypatch)
    services.envelope_seal(envelope_id=sealing.pk)
    monkeypatch.undo()  # the cause is fixed
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING_FAILED

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = sender_client.post(f"/envelopes/{sealing.pk}/retry-sealing/")
    assert response.status_code == 302
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING
    assert (sealing.sealing_attempts, sealing.sealing_error_code) == (0, "")
    page = sender_client.get(f"/envelopes/{sealing.pk}/").content.decode()
    assert "being sealed" in page and 'id="sealing-problem"' not in page
    for callback in callbacks:  # the seal task, queued on commit (eager here)
        callback()
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.COMPLETED
    retry = sealing.events.get(type=Event.Type.SEALING_STARTED)
    assert retry.actor == sender
    assert retry.data == {"retry": True, "after": "input_flatten_failed"}

    # Nothing to retry any more: a clear message, no change.
    response = sender_client.post(f"/envelopes/{sealing.pk}/retry-sealing/", follow=True)
    assert "not waiting for a retry" in response.content.decode()
    assert sealing.events.filter(type=Event.Type.SEALING_STARTED).count() == 1


def test_a_colleague_cannot_retry_sealing(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, colleague: User, client: Client
) -> None:
    _break_flattening(monkeypatch)
    services.envelope_seal(envelope_id=sealing.pk)
    client.force_login(colleague)
    assert client.post(f"/envelopes/{sealing.pk}/retry-sealing/").status_code in (403, 404)
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING_FAILED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent workers need PostgreSQL")
def test_two_sealers_at_once_flatten_and_seal_once(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = documents.flatten.flatten_pdf

    def slow(**kwargs: Any) -> bytes:
        calls.append(1)
        time.sleep(1.0)  # the second sealer arrives while the first one works
        return real(**kwargs)

    monkeypatch.setattr(documents.flatten, "flatten_pdf", slow)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def seal() -> None:
        try:
            barrier.wait()
            services.envelope_seal(envelope_id=sealing.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=seal) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.COMPLETED
    assert len(calls) == 1
    assert SealedDocument.objects.filter(code=sealing.public_id).count() == 1
    assert sealing.events.filter(type=Event.Type.SEALED).count() == 1
    assert sealing.sealing_attempts == 1


def test_a_signer_opening_the_link_learns_the_seal_is_delayed(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    _break_flattening(monkeypatch)
    services.envelope_seal(envelope_id=sealing.pk)
    company = sealing.parties.get(role=Party.Role.COMPANY)
    invitation = last_message(template="invitation", recipient=company.email)
    page = client.get(f"/s/{link_token(invitation)}/").content.decode()
    assert "Sealing the document is delayed" in page
    assert "send a new version" not in page  # the sender's business, not the signer's


def test_a_storage_failure_is_temporary_and_says_storage(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, sender: User
) -> None:
    def disk_full(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(default_storage, "save", disk_full)
    _sweep_at(timezone.now())
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == (
        "storage",
        "storage_failed",
    )
    assert "No space left" in sealing.sealing_error
    assert sealing.seal_next_attempt_at is not None
    assert not SealedDocument.objects.exists()
    assert not _sender_messages(sealing, sender)


def test_a_document_that_cannot_be_sealed_can_be_cancelled_and_the_signers_are_told(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, sender_client: Client
) -> None:
    _break_flattening(monkeypatch)
    services.envelope_seal(envelope_id=sealing.pk)
    response = sender_client.post(
        f"/envelopes/{sealing.pk}/cancel/", {"reason": "Wrong amount, a new invoice follows"}
    )
    assert response.status_code == 302
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.CANCELLED
    assert sealing.events.filter(type=Event.Type.CANCELLED).count() == 1
    told = Message.objects.filter(envelope=sealing, template=Message.Template.CANCELLED)
    assert {m.party.role for m in told if m.party} == {Party.Role.COMPANY, Party.Role.CLIENT}


def test_a_new_tsa_gets_a_new_certificate_page_and_the_old_preparation_is_removed(
    sealing: Envelope, fake_tsa: FakeTSA, flatten_calls: list[int], settings: Any
) -> None:
    start = timezone.now()
    _sweep_at(start)
    sealing.refresh_from_db()
    first = sealing.seal_prepared["sha256"]
    assert sealing.seal_prepared["tsa_name"] == fake_tsa.url

    settings.TSA_URL = ""  # the administrator switches to the built-in TSA
    _sweep_at(start + datetime.timedelta(minutes=2))
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.COMPLETED
    assert len(flatten_calls) == 2  # the certificate page names the TSA: prepared again
    assert not default_storage.exists(prepared_path(first))
    assert SealedDocument.objects.get(code=sealing.public_id).tsa_name == "SignFlow built-in TSA"


def test_an_unexpected_error_anywhere_in_the_attempt_is_recorded_and_retried(
    sealing: Envelope, monkeypatch: pytest.MonkeyPatch, sender: User
) -> None:
    """Not only SealingError: whatever raises during an attempt is recorded on the envelope
    with its event, as a temporary failure, and the sweep retries it once due."""
    from signing.services import sealing as sealing_module

    def broken(envelope: Envelope) -> dict:
        raise RuntimeError("the audit record could not be read")

    monkeypatch.setattr(sealing_module, "seal_metadata", broken)
    start = timezone.now()
    assert _sweep_at(start) == 1
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.SEALING
    assert (sealing.sealing_error_kind, sealing.sealing_error_code) == ("signer", "seal_failed")
    assert "audit record could not be read" in sealing.sealing_error
    assert sealing.seal_next_attempt_at == start + datetime.timedelta(minutes=1)
    (event,) = _failed_events(sealing)
    assert event.data["code"] == "seal_failed" and event.data["permanent"] is False
    assert not _sender_messages(sealing, sender)

    monkeypatch.undo()
    assert _sweep_at(start + datetime.timedelta(minutes=1, seconds=1)) == 1
    sealing.refresh_from_db()
    assert sealing.status == Envelope.Status.COMPLETED
    assert sealing.sealing_attempts == 2
