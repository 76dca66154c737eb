"""Deliveries to internal addresses are refused (resolve first, then check every address), the
allow-list lets chosen ones through, and the delivery connects to the very address checked,
with the URL's host name kept in the Host header."""

import socket

import pytest

from tests.webhooks.conftest import Receiver
from webhooks import services, ssrf
from webhooks.models import Endpoint, WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://10.1.2.3/hook",
    "http://127.0.0.1:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://localhost:8000/hook",  # a name resolving to loopback (/etc/hosts, no network)
]


def _endpoint_behind_the_form(url: str, manager) -> Endpoint:
    # The form refuses these at once; a manager could still have typed a name that resolves to
    # an internal address, or the allow-list changed since: write the row as that would.
    return Endpoint.objects.create(url=url, events=["envelope.sent"], created_by=manager)


@pytest.mark.parametrize("url", REFUSED)
def test_a_delivery_to_an_internal_address_is_refused(url: str, manager, settings):
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = []
    endpoint = _endpoint_behind_the_form(url, manager)
    delivery = services.endpoint_send_test(endpoint=endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.FAILED
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error_code == "address_refused"
    assert attempt.status_code is None
    assert "internal address" in attempt.error


@pytest.mark.parametrize("url", REFUSED)
def test_the_service_refuses_internal_addresses_written_out(url: str, manager, settings):
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(services.WebhookError) as caught:
        services.endpoint_create(url=url, events=["envelope.sent"], actor=manager)
    assert "url" in caught.value.fields
    assert not Endpoint.objects.exists()


def test_loopback_is_refused_without_the_allow_list_and_reached_with_it(
    receiver: Receiver, manager, settings
):
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    endpoint = services.endpoint_create(url=receiver.url, events=["envelope.sent"], actor=manager)
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = []
    first = services.endpoint_send_test(endpoint=endpoint)
    assert services.deliver(delivery_id=first.pk) == WebhookDelivery.Status.FAILED
    assert receiver.requests == []
    # A network (CIDR) works as well as an address.
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    second = services.endpoint_send_test(endpoint=endpoint)
    assert services.deliver(delivery_id=second.pk) == WebhookDelivery.Status.DELIVERED
    assert len(receiver.requests) == 1


def test_a_name_with_one_internal_address_among_public_ones_is_refused(monkeypatch, settings):
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = []

    def fake(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(ssrf.AddressRefused):
        ssrf.resolve("https://hooks.example.test/in")


def test_a_public_address_passes_the_check():
    target = ssrf.resolve("https://93.184.216.34:8443/in?x=1")
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/in?x=1")


def test_the_delivery_connects_to_the_address_resolved_once_with_the_host_name_kept(
    receiver: Receiver, manager, settings, monkeypatch
):
    """DNS rebinding: a second lookup of the name would answer an internal address. There is no
    second lookup: urllib3 is handed the checked IP address."""
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host == "hooks.example.test":
            lookups.append(host)
            answer = "127.0.0.1" if len(lookups) == 1 else "10.0.0.7"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.example.test:{receiver.port}/in"
    endpoint = Endpoint.objects.create(url=url, events=["envelope.sent"], created_by=manager)
    delivery = services.endpoint_send_test(endpoint=endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.DELIVERED
    assert lookups == ["hooks.example.test"]
    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert request.path == "/in"


def test_a_name_that_does_not_resolve_is_retried(manager, settings, monkeypatch):
    def nxdomain(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    endpoint = Endpoint.objects.create(
        url="https://nowhere.example.test/in", events=["envelope.sent"], created_by=manager
    )
    delivery = services.endpoint_send_test(endpoint=endpoint)
    assert services.deliver(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING
    assert WebhookAttempt.objects.get(delivery=delivery).error_code == "dns"
