"""/metrics: off unless configured, then only for the allowed addresses or the bearer token; the
numbers come from the database (any replica answers the same) and from the seal task."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from signflow import metrics
from signing.models import Envelope, Message

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-for-tests-0123456789"


def _samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _scrape(client: Client) -> dict:
    return _samples(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))


@pytest.fixture
def scraper(settings) -> None:
    settings.SIGNFLOW_METRICS_TOKEN = TOKEN


def test_it_is_off_unless_configured(client: Client, admin_client: Client):
    assert client.get("/metrics").status_code == 404
    assert admin_client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_it_refuses_a_missing_or_wrong_token(client: Client, scraper):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_it_answers_allowed_addresses_and_networks_only(client: Client, settings):
    settings.SIGNFLOW_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7", "not-an-address"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 403
    # Without a trusted proxy, X-Forwarded-For is the client's own word.
    spoofed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert spoofed.status_code == 403
    settings.SIGNFLOW_TRUSTED_PROXIES = 1
    proxied = client.get("/metrics", REMOTE_ADDR="172.18.0.2", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert proxied.status_code == 200


def test_it_only_answers_get(client: Client, scraper):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def test_envelopes_messages_and_outbox_come_from_the_database(
    client: Client, scraper, sent_envelope: Envelope
):
    samples = _scrape(client)
    assert samples[("signflow_envelopes", (("state", "awaiting_company"),))] == 1
    assert samples[("signflow_envelopes", (("state", "completed"),))] == 0
    assert samples[("signflow_messages_sent_total", (("channel", "email"),))] == 1
    assert samples[("signflow_messages_failed_total", (("channel", "sms"),))] == 0
    assert samples[("signflow_outbox_backlog", ())] == 0
    assert samples[("signflow_outbox_oldest_age_seconds", ())] == 0

    invitation = Message.objects.get(envelope=sent_envelope, template="invitation")
    waiting = Message.objects.create(
        envelope=sent_envelope,
        channel="sms",
        recipient="+33698765432",
        template="reminder",
        body="…",
    )
    Message.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=7))
    Message.objects.filter(pk=invitation.pk).update(status=Message.Status.FAILED)
    samples = _scrape(client)
    assert samples[("signflow_outbox_backlog", ())] == 1
    assert 420 <= samples[("signflow_outbox_oldest_age_seconds", ())] < 480
    assert samples[("signflow_messages_sent_total", (("channel", "email"),))] == 0
    assert samples[("signflow_messages_failed_total", (("channel", "email"),))] == 1


def test_seal_durations_and_tsa_errors_are_recorded_from_the_seal_task(
    client: Client, scraper, sent_envelope: Envelope
):
    def value(samples: dict, name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    before = _scrape(client)
    Envelope.objects.filter(pk=sent_envelope.pk).update(
        status=Envelope.Status.SEALING, sealing_error_kind="tsa"
    )
    metrics.record_seal(envelope_id=sent_envelope.pk, seconds=12.0)
    samples = _scrape(client)
    assert (
        value(samples, "signflow_tsa_errors_total")
        == value(before, "signflow_tsa_errors_total") + 1
    )
    assert value(samples, "signflow_sealing_waiting", error_kind="tsa") == 1
    bucket = {"outcome": "failed", "le": "15.0"}
    assert (
        value(samples, "signflow_seal_duration_seconds_bucket", **bucket)
        == value(before, "signflow_seal_duration_seconds_bucket", **bucket) + 1
    )
    Envelope.objects.filter(pk=sent_envelope.pk).update(status=Envelope.Status.COMPLETED)
    metrics.record_seal(envelope_id=sent_envelope.pk, seconds=1.5)
    after = _scrape(client)
    assert (
        value(after, "signflow_seal_duration_seconds_count", outcome="completed")
        == value(samples, "signflow_seal_duration_seconds_count", outcome="completed") + 1
    )
    assert value(after, "signflow_tsa_errors_total") == value(samples, "signflow_tsa_errors_total")


def test_webhook_deliveries_by_status_when_the_app_is_installed(client: Client, scraper):
    from django.apps import apps

    samples = _scrape(client)
    delivered = ("signflow_webhook_deliveries", (("status", "delivered"),))
    assert (delivered in samples) == apps.is_installed("webhooks")


def test_a_real_seal_task_is_timed(client: Client, scraper, monkeypatch, sent_envelope):
    """The signal handlers time the seal task itself (eager here, a worker in production)."""
    from signing import tasks

    seen: list[tuple[int, float]] = []
    monkeypatch.setattr(
        metrics, "record_seal", lambda *, envelope_id, seconds: seen.append((envelope_id, seconds))
    )
    tasks.seal_envelope.apply(args=(sent_envelope.pk,))
    assert seen and seen[0][0] == sent_envelope.pk and seen[0][1] >= 0
