"""Two workers on one delivery (the on-commit task and the sweep, or a task the broker handed
out twice): the row claim with SKIP LOCKED lets exactly one of them send it. PostgreSQL only:
SQLite has no row locks (its writes are serialised by BEGIN IMMEDIATE instead)."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from tests.webhooks.conftest import Receiver
from webhooks import services
from webhooks.models import Endpoint, WebhookAttempt, WebhookDelivery

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def _race(count: int, target) -> list[str]:
    barrier = threading.Barrier(count)
    results: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _pending(endpoint: Endpoint, n: int) -> WebhookDelivery:
    # Written directly: in this transactional test the outbox's on-commit task would send it
    # at once, before the race.
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        message_id=f"msg_race_{n}",
        event_type="webhook.test",
        payload='{"type":"webhook.test"}',
        next_attempt_at=timezone.now(),
    )


def test_two_workers_never_send_one_delivery_twice(receiver: Receiver, endpoint: Endpoint):
    receiver.delay = 0.5  # the first send is still in flight when the others look
    for n in range(3):
        delivery = _pending(endpoint, n)
        before = len(receiver.requests)
        results = _race(4, lambda d=delivery: services.deliver(delivery_id=d.pk))
        assert sorted(results) == ["delivered", "skipped", "skipped", "skipped"]
        assert len(receiver.requests) == before + 1
        assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == 1


def test_concurrent_sweeps_send_each_due_delivery_once(receiver: Receiver, endpoint: Endpoint):
    deliveries = [_pending(endpoint, n) for n in range(6)]
    results = _race(3, services.sweep)
    assert sum(int(r) for r in results) == 6
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert sorted(ids) == sorted(d.message_id for d in deliveries)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_deleting_an_endpoint_never_fails_a_signature_being_committed(endpoint: Endpoint, sender):
    """A state change lists the endpoint and writes its delivery; before it commits, a manager
    deletes the endpoint. The state change still commits (the row stays, soft-deleted)."""
    from signing import audit
    from signing import services as signing_services
    from signing.models import Envelope, Event
    from tests.security.conftest import _upload

    document = _upload("Contrat", sender)
    envelope = signing_services.envelope_create(
        document=document, responsible=sender, language="en"
    )
    deleted = threading.Event()

    def delete() -> None:
        try:
            services.endpoint_delete(endpoint=Endpoint.objects.get(pk=endpoint.pk))
            deleted.set()
        finally:
            connections.close_all()

    with transaction.atomic():
        Envelope.objects.select_for_update().get(pk=envelope.pk)
        audit.event_append(envelope=envelope, type=Event.Type.EXPIRED)
        assert WebhookDelivery.objects.filter(endpoint=endpoint).exists()
        thread = threading.Thread(target=delete)
        thread.start()
        thread.join(20)
        assert deleted.is_set()
    # Committed: the audit event and its (never sent) delivery are both there.
    assert Event.objects.filter(envelope=envelope, type=Event.Type.EXPIRED).exists()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="envelope.expired")
    assert services.deliver(delivery_id=delivery.pk) == "skipped"
