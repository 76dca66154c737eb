"""HTTPS to the checked address: urllib3 connects to the IP address resolved once, yet TLS
still sends the URL's host name (SNI) and checks the certificate against it. The receiver's
certificate comes from a CA made here, trusted through SSL_CERT_FILE (OpenSSL's default paths)."""

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.webhooks.conftest import Receiver, _bind
from webhooks import services
from webhooks.models import Endpoint, WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

NAME = "hooks.example.test"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(tmp: Path, dns_name: str) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test CA"))
        .issuer_name(_name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


@pytest.fixture
def tls_receiver(request, tmp_path: Path, settings, monkeypatch) -> Iterator[tuple[Receiver, list]]:
    settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    ca_pem, cert_pem, key_pem = _certificates(tmp_path, request.param)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_pem))
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_pem, key_pem)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    server = _bind()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    found = Receiver(port=server.server_address[1])
    server.receiver = found
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host == NAME:  # the name's DNS answer (DNS lives off this machine)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    yield found, server_names
    server.shutdown()
    server.server_close()


def _deliver(port: int, manager) -> WebhookDelivery:
    endpoint = Endpoint.objects.create(
        url=f"https://{NAME}:{port}/in", events=["envelope.sent"], created_by=manager
    )
    delivery = services.endpoint_send_test(endpoint=endpoint)
    services.deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.mark.parametrize("tls_receiver", [NAME], indirect=True)
def test_https_goes_to_the_checked_address_with_sni_and_a_checked_certificate(
    tls_receiver, manager
):
    receiver, server_names = tls_receiver
    delivery = _deliver(receiver.port, manager)
    assert delivery.status == WebhookDelivery.Status.DELIVERED, delivery.last_error
    assert server_names == [NAME]
    (request,) = receiver.requests
    assert request.headers["host"] == f"{NAME}:{receiver.port}"


@pytest.mark.parametrize("tls_receiver", ["someone-else.example.test"], indirect=True)
def test_a_certificate_for_another_name_is_refused(tls_receiver, manager):
    receiver, _names = tls_receiver
    delivery = _deliver(receiver.port, manager)
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error_code == "tls", attempt.error
