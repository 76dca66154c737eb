"""Sending one delivery to the real receiver: signature, outage and backoff, the bounded
response excerpt, timeouts, redirects not followed, redelivery with the same webhook-id, and the
secret rotation that signs with both secrets for a day."""

import datetime
import json

import pytest
import time_machine
from django.urls import resolve
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from signing.models import Envelope
from tests.webhooks.conftest import Receiver
from webhooks import services, transport
from webhooks.models import Endpoint, WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db


def _queued(endpoint: Endpoint) -> WebhookDelivery:
    return services.endpoint_send_test(endpoint=endpoint)


def test_a_test_event_arrives_signed_with_the_endpoints_secret(
    receiver: Receiver, endpoint: Endpoint
):
    delivery = _queued(endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.DELIVERED
    (request,) = receiver.requests
    body = request.verified(endpoint.secret)
    assert body["type"] == "webhook.test"
    assert body["data"]["endpoint"]["id"] == endpoint.pk
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.headers["user-agent"] == transport.USER_AGENT
    with pytest.raises(Exception, match="signature"):
        Webhook(services.new_secret()).verify(request.body, request.headers)
    delivery.refresh_from_db()
    assert delivery.last_status_code == 200
    assert delivery.last_response == '{"ok":true}'
    assert delivery.delivered_at is not None


def test_an_outage_is_retried_with_backoff_and_the_same_webhook_id(
    receiver: Receiver, endpoint: Endpoint
):
    receiver.statuses = [500, 503]
    delivery = _queued(endpoint)
    start = timezone.now()
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING
    delivery.refresh_from_db()
    assert delivery.last_status_code == 500
    wait = delivery.next_attempt_at - start
    assert datetime.timedelta(seconds=55) < wait < datetime.timedelta(seconds=70)
    # Not due yet: the sweep leaves it alone.
    assert services.sweep() == 0
    assert len(receiver.requests) == 1
    with time_machine.travel(start + datetime.timedelta(minutes=2), tick=True):
        assert services.sweep() == 1  # 503: again later (5 minutes)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at - start > datetime.timedelta(minutes=6)
    with time_machine.travel(start + datetime.timedelta(minutes=10), tick=True):
        assert services.sweep() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 3
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 3
    # Every attempt is signed for its own time, and each one verifies.
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1
    assert [a.status_code for a in delivery.tries.order_by("id")] == [500, 503, 200]


def test_it_gives_up_after_about_a_day(receiver: Receiver, endpoint: Endpoint):
    receiver.statuses = [500] * 20
    delivery = _queued(endpoint)
    start = timezone.now()
    assert sum(services.BACKOFF, datetime.timedelta()) > datetime.timedelta(hours=22)
    assert sum(services.BACKOFF, datetime.timedelta()) < datetime.timedelta(hours=26)
    services.deliver(delivery_id=delivery.pk)
    when = start
    for _ in range(services.MAX_ATTEMPTS - 1):
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is not None
        when = delivery.next_attempt_at + datetime.timedelta(seconds=1)
        with time_machine.travel(when, tick=False):
            services.sweep()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == services.MAX_ATTEMPTS
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == services.MAX_ATTEMPTS
    assert datetime.timedelta(hours=22) < when - start < datetime.timedelta(hours=26)
    with time_machine.travel(when + datetime.timedelta(days=2), tick=False):
        assert services.sweep() == 0


def test_redeliver_sends_the_same_body_and_id_again(receiver: Receiver, endpoint: Endpoint):
    receiver.statuses = [500] * 20
    delivery = _queued(endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, attempts=services.MAX_ATTEMPTS
    )
    receiver.statuses = []
    services.delivery_redeliver(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 0
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.DELIVERED
    (request,) = receiver.requests
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.body == delivery.payload.encode()


def test_only_the_first_kilobyte_of_an_answer_is_kept(receiver: Receiver, endpoint: Endpoint):
    receiver.reply = ("é" * 5000).encode()
    delivery = _queued(endpoint)
    services.deliver(delivery_id=delivery.pk)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert len(attempt.response_excerpt.encode("utf-8", "replace")) <= 1024 + 3
    assert attempt.response_excerpt.startswith("éé")


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    receiver: Receiver, endpoint: Endpoint, monkeypatch
):
    monkeypatch.setattr(transport, "READ_TIMEOUT", 0.3)
    receiver.delay = 1.0
    delivery = _queued(endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error_code == "timeout"
    assert attempt.status_code is None
    assert attempt.duration_ms < 1000


def test_nothing_listening_is_a_failed_attempt(closed_port: int, manager, settings):
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    endpoint = services.endpoint_create(
        url=f"http://127.0.0.1:{closed_port}/in", events=["envelope.sent"], actor=manager
    )
    delivery = _queued(endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING
    assert WebhookAttempt.objects.get(delivery=delivery).error_code == "connection"


def test_a_redirect_is_not_followed(receiver: Receiver, endpoint: Endpoint):
    receiver.statuses = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    delivery = _queued(endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302


def test_a_disabled_endpoint_keeps_its_deliveries_until_enabled(
    receiver: Receiver, endpoint: Endpoint, django_capture_on_commit_callbacks
):
    delivery = _queued(endpoint)
    services.endpoint_set_active(endpoint=endpoint, active=False)
    assert services.deliver(delivery_id=delivery.pk) == "skipped"
    assert services.sweep() == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_set_active(endpoint=endpoint, active=True)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED


def test_rotation_signs_with_both_secrets_for_a_day(receiver: Receiver, endpoint: Endpoint):
    old = endpoint.secret
    endpoint = services.endpoint_rotate_secret(endpoint=endpoint)
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_")
    services.deliver(delivery_id=_queued(endpoint).pk)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    request.verified(old)
    request.verified(endpoint.secret)
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25), tick=False):
        services.deliver(delivery_id=_queued(endpoint).pk)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1


def test_a_stale_claim_goes_back_to_the_queue(receiver: Receiver, endpoint: Endpoint):
    delivery = _queued(endpoint)
    # A worker claimed it and died (SIGKILL) before recording anything.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.SENDING,
        attempts=1,
        claimed_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    assert services.sweep() == 0  # a fresh claim may be a slow receiver
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - services.STALE_CLAIM - datetime.timedelta(seconds=1)
    )
    assert services.sweep() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 2


def test_the_payload_is_stable_json(endpoint: Endpoint, sent_envelope_for_webhooks: Envelope):
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).get(event_type="envelope.sent")
    body = json.loads(delivery.payload)
    assert list(body) == ["data", "timestamp", "type"]
    assert body["timestamp"].endswith("Z")
    envelope = body["data"]["envelope"]
    # The link names the REST API's own view of the envelope.
    assert resolve(envelope["links"]["api"]).view_name == "api_v1:envelope_detail"
    assert envelope == {
        "id": sent_envelope_for_webhooks.pk,
        "reference": sent_envelope_for_webhooks.public_id,
        "status": "awaiting_company",
        "title": sent_envelope_for_webhooks.title,
        "links": {
            "api": f"/api/v1/envelopes/{sent_envelope_for_webhooks.pk}",
            "page": f"http://127.0.0.1:8000/envelopes/{sent_envelope_for_webhooks.pk}/",
        },
    }
