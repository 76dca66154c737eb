"""Idempotency-Key on POST: the first answer replayed, another request refused with 409, errors
not kept, and concurrent retries on PostgreSQL creating exactly one object."""

import threading

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from api.models import ApiKeyEvent, IdempotentRequest
from crm.models import Counterparty
from tests.api.conftest import Api, api_for

BODY = {"legal_name": "Acme SAS", "siren": "732829320"}


@pytest.mark.django_db
def test_the_same_key_and_body_replay_the_first_answer(sender_api: Api) -> None:
    first = sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    again = sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Counterparty.objects.count() == 1


@pytest.mark.django_db
def test_the_same_body_in_another_key_order_is_the_same_request(sender_api: Api) -> None:
    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-2"})
    reordered = {"siren": "732829320", "legal_name": "Acme SAS"}
    again = sender_api.post("/counterparties", reordered, headers={"Idempotency-Key": "k-2"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_conflict(sender_api: Api) -> None:
    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-3"})
    other = sender_api.post(
        "/counterparties", {"legal_name": "Other"}, headers={"Idempotency-Key": "k-3"}
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json()["error"]["fields"]
    assert Counterparty.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_a_conflict(sender_api: Api, sender: User) -> None:
    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-4"})
    counterparty = Counterparty.objects.get()
    other = sender_api.post(
        f"/counterparties/{counterparty.pk}/contacts",
        BODY,
        headers={"Idempotency-Key": "k-4"},
    )
    assert other.status_code == 409


@pytest.mark.django_db
def test_keys_are_per_api_key(sender_api: Api, colleague_api: Api) -> None:
    assert (
        sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "same"}).status_code
        == 201
    )
    second = colleague_api.post("/counterparties", BODY, headers={"Idempotency-Key": "same"})
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert Counterparty.objects.count() == 2


@pytest.mark.django_db
def test_an_error_is_not_kept_and_leaves_nothing_written(sender_api: Api) -> None:
    bad = sender_api.post(
        "/counterparties",
        {"legal_name": "Acme", "siren": "123"},
        headers={"Idempotency-Key": "k-5"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["siren"]
    assert not IdempotentRequest.objects.exists()
    fixed = sender_api.post(
        "/counterparties",
        {"legal_name": "Acme", "siren": "732829320"},
        headers={"Idempotency-Key": "k-5"},
    )
    assert fixed.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", " ", "x" * 256, "tab\there"])
def test_a_malformed_key_is_refused(sender_api: Api, value: str) -> None:
    response = sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    assert not Counterparty.objects.exists()


@pytest.mark.django_db
def test_a_refused_write_rolls_back_what_it_wrote(sender_api: Api, sender: User) -> None:
    """An invoice whose second line is refused by crm.services leaves no invoice behind."""
    from tests import factories

    deal = factories.make_deal(company=sender.employee.company, responsible=sender)
    response = sender_api.post(
        "/invoices",
        {
            "deal_id": deal.pk,
            "issue_date": "2026-11-20",
            "due_date": "2026-12-20",
            "lines": [
                {"description": "a", "quantity": "1", "unit_price": "1", "vat_rate": "20"},
                {"description": "b", "quantity": "1", "unit_price": "1", "vat_rate": "7"},
            ],
        },
    )
    assert response.status_code == 400, response.content
    assert "VAT" in response.json()["error"]["message"]
    assert not deal.invoices.exists()


@pytest.mark.django_db
def test_every_write_is_in_the_keys_audit_trail(sender_api: Api) -> None:
    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-6"})
    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "k-6"})
    assert ApiKeyEvent.objects.filter(kind="used", method="POST").count() == 2


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="row locks and concurrent transactions need PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_create_one_object_and_all_get_its_answer(sender: User) -> None:
    api = api_for(sender)
    barrier = threading.Barrier(6)
    answers: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def retry() -> None:
        try:
            client = Api(api.token)
            barrier.wait()
            response = client.post(
                "/counterparties", BODY, headers={"Idempotency-Key": "concurrent"}
            )
            with lock:
                answers.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counterparty.objects.count() == 1
    assert [status for status, _ in answers] == [201] * 6
    assert len({body for _, body in answers}) == 1
    assert IdempotentRequest.objects.count() == 1


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="row locks and concurrent transactions need PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_send_once(sender: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from signing.models import Envelope, Event
    from tests.security.conftest import blank_pdf

    api = api_for(sender)
    document = api.upload(
        "/documents",
        {"file": SimpleUploadedFile("c.pdf", blank_pdf(), "application/pdf"), "title": "C"},
    ).json()
    parties = [
        {"role": "company", "name": "Claire", "email": "claire@example.com"},
        {"role": "client", "name": "Paul", "email": "paul@example.com"},
    ]
    envelope = api.post("/envelopes", {"document_id": document["id"], "parties": parties}).json()
    barrier = threading.Barrier(4)
    answers: dict[str, list[tuple[int, bytes]]] = {"a": [], "b": []}
    lock = threading.Lock()

    def send(key: str) -> None:
        try:
            client = Api(api.token)
            barrier.wait()
            response = client.post(
                f"/envelopes/{envelope['id']}/send", headers={"Idempotency-Key": key}
            )
            with lock:
                answers[key].append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(key,)) for key in ("a", "a", "b", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = {key: sorted(status for status, _ in got) for key, got in answers.items()}
    assert sorted(statuses.values()) == [[200, 200], [409, 409]], statuses
    winner = next(key for key, got in statuses.items() if got == [200, 200])
    assert len({body for _, body in answers[winner]}) == 1
    assert Event.objects.filter(envelope_id=envelope["id"], type="sent").count() == 1
    assert Envelope.objects.get(pk=envelope["id"]).parties.count() == 2


@pytest.mark.django_db
def test_keys_are_forgotten_after_a_day(sender_api: Api) -> None:
    import datetime

    from django.utils import timezone

    from api.tasks import purge_idempotent_requests

    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "old"})
    sender_api.post("/counterparties", BODY, headers={"Idempotency-Key": "new"})
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )
    assert purge_idempotent_requests() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    again = sender_api.post(
        "/counterparties", {"legal_name": "Z"}, headers={"Idempotency-Key": "old"}
    )
    assert again.status_code == 201
