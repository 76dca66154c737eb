"""The outbox: deliveries are written by the audit trail's transaction (none if it rolls back),
only for subscribed, active endpoints, one webhook id per event shared by its endpoints; each
audit kind maps to its webhook event; the task runs on its own queue."""

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from signflow.celery import app
from signing import audit
from signing.models import Envelope, Event, Message
from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.models import Endpoint, WebhookDelivery
from webhooks.tasks import deliver_webhook, sweep_webhooks

pytestmark = pytest.mark.django_db


def _types(endpoint: Endpoint) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def test_sending_writes_one_delivery_per_subscribed_endpoint(
    endpoint: Endpoint, manager: User, sent_envelope_for_webhooks: Envelope
):
    completed_only = Endpoint.objects.create(
        url="https://b.example.com/", events=["envelope.completed"]
    )
    also_sent = services.endpoint_create(
        url="https://c.example.com/", events=["envelope.sent"], actor=manager
    )
    disabled = services.endpoint_create(
        url="https://d.example.com/", events=list(EVENT_TYPES), actor=manager
    )
    services.endpoint_set_active(endpoint=disabled, active=False)
    with transaction.atomic():
        audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.SENT)
    assert _types(endpoint) == ["envelope.sent", "envelope.sent"]
    assert _types(also_sent) == ["envelope.sent"]
    assert _types(completed_only) == []
    assert _types(disabled) == []
    # One event, one webhook-id, whichever endpoint receives it.
    last = WebhookDelivery.objects.filter(event_type="envelope.sent").order_by("-id")
    assert last[0].message_id == last[1].message_id


def test_a_rolled_back_state_change_leaves_no_delivery(
    endpoint: Endpoint, sent_envelope_for_webhooks: Envelope
):
    before = WebhookDelivery.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.CANCELLED)
        assert WebhookDelivery.objects.count() == before + 1
        raise RuntimeError("the cancel failed after its audit event")
    assert WebhookDelivery.objects.count() == before


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (Event.Type.CREATED, {}, []),
        (Event.Type.MESSAGE_SENT, {}, []),
        (Event.Type.CODE_SENT, {}, []),
        (Event.Type.CANCELLED, {"reason": "Wrong amount"}, ["envelope.cancelled"]),
        (Event.Type.EXPIRED, {}, ["envelope.expired"]),
        (Event.Type.SEALED, {"sha256": "0" * 64}, ["envelope.completed"]),
        (Event.Type.MESSAGE_FAILED, {"message": 1, "attempt": 1, "final": False}, []),
        (
            Event.Type.MESSAGE_FAILED,
            {"message": 1, "attempt": 8, "final": True},
            ["message.failed"],
        ),
        (
            Event.Type.MESSAGE_FAILED,
            {"message": 1, "provider_status": "bounced"},
            ["message.failed"],
        ),
        (Event.Type.SEALING_FAILED, {"code": "tsa", "attempt": 1}, []),
        (
            Event.Type.SEALING_FAILED,
            {"code": "tsa", "kind": "tsa", "final": True},
            ["sealing.failed"],
        ),
    ],
)
def test_each_audit_kind_maps_to_its_webhook_event(
    endpoint: Endpoint, sent_envelope_for_webhooks: Envelope, kind: str, data: dict, expected
):
    before = set(WebhookDelivery.objects.values_list("pk", flat=True))
    with transaction.atomic():
        audit.event_append(envelope=sent_envelope_for_webhooks, type=kind, data=data)
    new = WebhookDelivery.objects.exclude(pk__in=before).order_by("id")
    assert [d.event_type for d in new] == expected


def test_a_decline_is_two_events_about_the_party_and_the_envelope(
    endpoint: Endpoint, sent_envelope_for_webhooks: Envelope
):
    import json

    party = sent_envelope_for_webhooks.parties.get(role="company")
    before = set(WebhookDelivery.objects.values_list("pk", flat=True))
    with transaction.atomic():
        audit.event_append(
            envelope=sent_envelope_for_webhooks,
            party=party,
            type=Event.Type.DECLINED,
            data={"reason": "Le montant est faux"},
        )
    new = list(WebhookDelivery.objects.exclude(pk__in=before).order_by("id"))
    assert [d.event_type for d in new] == ["party.declined", "envelope.declined"]
    assert new[0].message_id != new[1].message_id
    for delivery in new:
        data = json.loads(delivery.payload)["data"]
        assert data["reason"] == "Le montant est faux"
        assert data["party"] == {
            "id": party.pk,
            "role": "company",
            "order": party.order,
            "name": "Claire Dubois",
            "channel": "email",
        }


def test_a_message_failure_names_the_message(
    endpoint: Endpoint, sent_envelope_for_webhooks: Envelope
):
    import json

    message = Message.objects.filter(envelope=sent_envelope_for_webhooks).first()
    with transaction.atomic():
        audit.event_append(
            envelope=sent_envelope_for_webhooks,
            type=Event.Type.MESSAGE_FAILED,
            data={"message": message.pk, "final": True, "error": "550 mailbox unavailable"},
        )
    delivery = WebhookDelivery.objects.filter(event_type="message.failed").get()
    assert json.loads(delivery.payload)["data"]["message"] == {
        "id": message.pk,
        "template": message.template,
        "channel": message.channel,
        "error": "550 mailbox unavailable",
    }


def test_events_nobody_subscribes_to_cost_no_query(sent_envelope_for_webhooks: Envelope):
    # No endpoint left: after the first look (cached), an audit event costs only its own
    # queries: the chain tail and the insert.
    for endpoint in Endpoint.objects.all():
        services.endpoint_delete(endpoint=endpoint)
    audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.LINK_OPENED)
    with CaptureQueriesContext(connection) as ctx:
        audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.LINK_OPENED)
    assert len(ctx.captured_queries) == 2, [q["sql"] for q in ctx.captured_queries]


def test_a_new_endpoint_is_heard_at_once(
    manager: User, sent_envelope_for_webhooks: Envelope, settings
):
    audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.EXPIRED)  # cached: none
    endpoint = services.endpoint_create(
        url="https://a.example.com/", events=["envelope.expired"], actor=manager
    )
    audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.EXPIRED)
    assert _types(endpoint) == ["envelope.expired"]


def test_a_broken_outbox_write_never_breaks_the_state_change(
    endpoint: Endpoint, sent_envelope_for_webhooks: Envelope, monkeypatch
):
    def broken(rows):
        raise ValueError("disk full")

    monkeypatch.setattr(WebhookDelivery.objects, "bulk_create", broken)
    with transaction.atomic():
        event = audit.event_append(envelope=sent_envelope_for_webhooks, type=Event.Type.EXPIRED)
    assert Event.objects.filter(pk=event.pk).exists()
    assert audit.chain_check(envelope=sent_envelope_for_webhooks).ok


def test_the_tasks_go_to_the_webhooks_queue():
    for task in (deliver_webhook, sweep_webhooks):
        options = app.amqp.router.route({}, task.name)
        assert options["queue"].name == "webhooks"
    assert "webhooks" not in {
        app.amqp.router.route({}, "signing.tasks.deliver_message")["queue"].name
    }
