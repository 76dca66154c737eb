"""Writes of the webhooks app: endpoints, the outbox of deliveries and sending them.

Deliveries are written by `record_event` (connected to signing.audit.event_appended) in the
transaction of the state change, so a webhook exists exactly when its event does, and sent by
the `deliver_webhook` task once that transaction commits. Failed attempts back off (BACKOFF,
about 24 hours in all) and the sweep sends them when due; then the delivery is `failed`.
Delivery is at least once: a receiver deduplicates on `webhook-id`.
"""

import logging
from datetime import UTC, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from signflow.errors import Conflict, SignFlowError
from signing.models import Event
from webhooks import events, ssrf, transport
from webhooks.models import Endpoint, WebhookAttempt, WebhookDelivery, new_message_id, new_secret

logger = logging.getLogger(__name__)

# Waits after the 1st, 2nd, ... failed attempt: 8 attempts over 23 h 36 min, then `failed`.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=8),
    timedelta(hours=8),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claim older than this belongs to a worker that died mid-send (an attempt takes at most
# transport's 5 s connect + 10 s read): the sweep gives the delivery back to the queue.
STALE_CLAIM = timedelta(minutes=5)
# After a rotation the old secret keeps signing (a second signature) this long.
ROTATION_OVERLAP = timedelta(hours=24)
SWEEP_SECONDS = 50.0

# The event types some active endpoint listens to: the audit trail asks it on every event, so
# it is cached (events nobody listens to then cost no query). Deleted whenever endpoints change.
SUBSCRIBED_CACHE_KEY = "webhooks:subscribed-types:v1"
SUBSCRIBED_CACHE_SECONDS = 30


class WebhookError(SignFlowError):
    default_code = "webhook_invalid"


# --- Endpoints ---------------------------------------------------------------------------------


def _validate(url: str, chosen: list[str]) -> list[str]:
    fields: dict[str, list[str]] = {}
    refusal = ssrf.literal_refusal(url)
    if refusal:
        fields["url"] = [str(_("This address is internal: SignFlow does not send webhooks to it."))]
    unknown = [name for name in chosen if name not in events.EVENT_TYPES]
    if unknown:
        fields["events"] = [str(_("Unknown event: %s")) % ", ".join(unknown)]
    elif not chosen:
        fields["events"] = [str(_("Choose at least one event."))]
    if fields:
        raise WebhookError("webhook_invalid", next(iter(fields.values()))[0], fields=fields)
    return [name for name in events.EVENT_TYPES if name in chosen]  # canonical order


def _subscriptions_changed() -> None:
    cache.delete(SUBSCRIBED_CACHE_KEY)
    # Again once committed: a reader between now and the commit may have cached the old set.
    transaction.on_commit(lambda: cache.delete(SUBSCRIBED_CACHE_KEY))


def endpoint_create(*, url: str, events: list[str], description: str = "", actor: User) -> Endpoint:
    chosen = _validate(url, events)
    with transaction.atomic():
        endpoint = Endpoint(url=url, events=chosen, description=description, created_by=actor)
        endpoint.full_clean()
        endpoint.save()
        _subscriptions_changed()
    logger.info("Webhook endpoint %s added by %s", endpoint.pk, actor.pk)
    return endpoint


def endpoint_update(
    *, endpoint: Endpoint, url: str, events: list[str], description: str = ""
) -> Endpoint:
    chosen = _validate(url, events)
    with transaction.atomic():
        endpoint.url = url
        endpoint.events = chosen
        endpoint.description = description
        endpoint.full_clean()
        endpoint.save(update_fields=["url", "events", "description", "updated_at"])
        _subscriptions_changed()
    return endpoint


def endpoint_set_active(*, endpoint: Endpoint, active: bool) -> Endpoint:
    """A disabled endpoint gets no new deliveries; those already queued wait until it is back."""
    with transaction.atomic():
        endpoint.is_active = active
        endpoint.save(update_fields=["is_active", "updated_at"])
        _subscriptions_changed()
        if active:
            _dispatch_due(endpoint)
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Gone from the pages, its secrets erased, its queued deliveries failed. The row stays:
    a signing transaction that listed the endpoint a moment ago may still insert a delivery
    for it, and a deleted row would make that transaction fail at commit (deferred foreign
    key), taking the signature with it."""
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.is_active = False
        locked.deleted_at = timezone.now()
        locked.secret = ""
        locked.previous_secret = ""
        locked.previous_secret_expires_at = None
        locked.save(
            update_fields=[
                "is_active",
                "deleted_at",
                "secret",
                "previous_secret",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
        WebhookDelivery.objects.filter(
            endpoint=locked, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.FAILED, last_error="endpoint deleted")
        _subscriptions_changed()


def endpoint_rotate_secret(*, endpoint: Endpoint) -> Endpoint:
    """A new secret at once; the old one still signs for ROTATION_OVERLAP so that the receiver
    can switch without rejecting a delivery (Standard Webhooks: several signatures)."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save(
            update_fields=[
                "secret",
                "previous_secret",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
    return endpoint


def signing_secrets(endpoint: Endpoint) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > timezone.now():
        secrets.append(endpoint.previous_secret)
    return secrets


def endpoint_send_test(*, endpoint: Endpoint) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint only, through the same outbox as real ones."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            message_id=new_message_id(),
            event_type=events.TEST_EVENT,
            payload=events.body(
                webhook_type=events.TEST_EVENT,
                timestamp=_iso(now),
                data={"endpoint": {"id": endpoint.pk, "url": endpoint.url}},
            ),
            next_attempt_at=now,
        )
        transaction.on_commit(lambda: dispatch([delivery.pk]))
    return delivery


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same delivery again (same `webhook-id`, same body), with a fresh round of
    retries. Refused while an attempt is under way."""
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status == WebhookDelivery.Status.SENDING:
            raise Conflict("webhook_sending", _("This delivery is being sent right now."))
        locked.status = WebhookDelivery.Status.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        if locked.endpoint.is_active:
            transaction.on_commit(lambda: dispatch([locked.pk]))
    return locked


# --- The outbox --------------------------------------------------------------------------------


def subscribed_types() -> frozenset[str]:
    cached = cache.get(SUBSCRIBED_CACHE_KEY)
    if cached is None:
        cached = sorted(
            {
                name
                for chosen in Endpoint.objects.filter(is_active=True).values_list(
                    "events", flat=True
                )
                for name in chosen
            }
        )
        cache.set(SUBSCRIBED_CACHE_KEY, cached, SUBSCRIBED_CACHE_SECONDS)
    return frozenset(cached)


def _iso(when: Any) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def record_event(*, event: Event) -> list[int]:
    """Write one delivery per subscribed endpoint and webhook event of this audit event, in the
    caller's transaction, and queue them for after its commit.

    Never raises: a webhook problem must not roll back a signature. The write happens in a
    savepoint so that a failed insert leaves the caller's transaction usable."""
    types = events.webhook_types_for(event)
    if not types:
        return []
    try:
        wanted = [name for name in types if name in subscribed_types()]
        if not wanted:
            return []
        endpoints = list(Endpoint.objects.filter(is_active=True).only("id", "events"))
        rows: list[WebhookDelivery] = []
        for name in wanted:
            listeners = [endpoint for endpoint in endpoints if name in endpoint.events]
            if not listeners:
                continue
            body = events.body(
                webhook_type=name,
                timestamp=_iso(event.created_at),
                data=events.event_data(event, name),
            )
            message_id = new_message_id()
            rows.extend(
                WebhookDelivery(
                    endpoint=endpoint,
                    message_id=message_id,
                    event_type=name,
                    envelope_id=event.envelope_id,
                    payload=body,
                    next_attempt_at=event.created_at,
                )
                for endpoint in listeners
            )
        if not rows:
            return []
        with transaction.atomic():
            created = WebhookDelivery.objects.bulk_create(rows)
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("Webhook deliveries for audit event %s not written", event.pk)
        return []
    ids = [row.pk for row in created]
    transaction.on_commit(lambda: dispatch(ids))
    return ids


def dispatch(delivery_ids: list[int]) -> None:
    """Hand deliveries to the `webhooks` queue; a broker outage leaves them to the sweep."""
    from webhooks.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        try:
            deliver_webhook.apply_async(args=(delivery_id,), retry=False)
        except Exception:  # noqa: BLE001 - any broker error: the sweep sends it later
            logger.warning(
                "Broker unavailable, webhook delivery %s left for the sweep", delivery_id
            )


def _dispatch_due(endpoint: Endpoint) -> None:
    due = list(
        WebhookDelivery.objects.filter(
            endpoint=endpoint,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=timezone.now(),
        ).values_list("pk", flat=True)[:200]
    )
    if due:
        transaction.on_commit(lambda: dispatch(due))


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Take one due delivery for this worker. The row lock with SKIP LOCKED makes a second
    worker (the on-commit task and the sweep, or a task delivered twice by the broker) find
    nothing instead of waiting and then sending the same delivery again."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(
                pk=delivery_id,
                status=WebhookDelivery.Status.PENDING,
                endpoint__is_active=True,
            )
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if delivery is None:
            return None
        delivery.status = WebhookDelivery.Status.SENDING
        delivery.attempts += 1
        delivery.claimed_at = now
        delivery.save(update_fields=["status", "attempts", "claimed_at"])
    return delivery


def deliver(*, delivery_id: int) -> str:
    """One attempt at one delivery. Returns its status afterwards, or "skipped"."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    endpoint = delivery.endpoint
    started = timezone.now()
    outcome = transport.post(
        url=endpoint.url,
        body=delivery.payload,
        secrets=signing_secrets(endpoint),
        message_id=delivery.message_id,
    )
    return _record_attempt(delivery, outcome, started)


def _record_attempt(delivery: WebhookDelivery, outcome: transport.Outcome, started: Any) -> str:
    now = timezone.now()
    update: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_response": outcome.excerpt,
        "last_error": outcome.error,
        "claimed_at": None,
    }
    if outcome.ok:
        update.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
    elif outcome.error_code == "address_refused" or delivery.attempts >= MAX_ATTEMPTS:
        # An internal address is a setting to change, not an outage to wait out.
        update.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    else:
        update.update(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at=now + BACKOFF[delivery.attempts - 1],
        )
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=started,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
            error_code=outcome.error_code,
        )
        # Only our own claim: if the sweep took the row back meanwhile, the next claim decides.
        WebhookDelivery.objects.filter(
            pk=delivery.pk,
            status=WebhookDelivery.Status.SENDING,
            claimed_at=delivery.claimed_at,
        ).update(**update)
    if not outcome.ok:
        logger.warning(
            "Webhook delivery %s attempt %s failed: %s %s",
            delivery.pk,
            delivery.attempts,
            outcome.status_code or outcome.error_code,
            outcome.error[:200],
        )
    return str(update["status"])


def sweep(*, limit: int = 500, seconds: float = SWEEP_SECONDS) -> int:
    """Give stale claims back, then send what is due (retries, and whatever the broker lost),
    for at most `seconds` so that sweeps do not pile up behind a slow endpoint."""
    import time

    deadline = time.monotonic() + seconds
    now = timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    ).update(status=WebhookDelivery.Status.PENDING, claimed_at=None)
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            endpoint__is_active=True,
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for delivery_id in due:
        if time.monotonic() > deadline:
            break
        if deliver(delivery_id=delivery_id) != "skipped":
            done += 1
    return done
