"""One signed HTTP POST to an endpoint, to the address webhooks.ssrf checked.

urllib3 connects to the checked IP address itself; the URL's host name still goes in the Host
header and, over HTTPS, in the TLS SNI and the certificate check. No redirect is followed (a
3xx could point anywhere, internal addresses included): it counts as a failed attempt. The
answer is read up to its first KB, then the connection is dropped.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from standardwebhooks.webhooks import Webhook

from webhooks import ssrf

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
EXCERPT_BYTES = 1024
USER_AGENT = "SignFlow-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    excerpt: str
    error: str
    error_code: str  # "", address_refused, dns, timeout, connection, tls
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature(*, secrets: list[str], message_id: str, when: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated (rotation)."""
    return " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=when, data=body) for secret in secrets
    )


def headers_for(*, secrets: list[str], message_id: str, body: str, now: float) -> dict[str, str]:
    when = datetime.fromtimestamp(int(now), tz=UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": signature(
            secrets=secrets, message_id=message_id, when=when, body=body
        ),
    }


def _host_header(target: ssrf.Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _pool(target: ssrf.Target) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if target.scheme == "https":
        literal = ssrf._ip(target.host) is not None
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=None if literal else target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(
        target.address, target.port, timeout=timeout, maxsize=1, retries=False
    )


def post(*, url: str, body: str, secrets: list[str], message_id: str) -> Outcome:
    started = time.monotonic()

    def done(
        status: int | None = None, excerpt: str = "", error: str = "", code: str = ""
    ) -> Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(status, excerpt, error[:1000], code, elapsed)

    try:
        target = ssrf.resolve(url)
    except ssrf.AddressRefused as exc:
        return done(error=str(exc), code="address_refused")
    except ssrf.ResolutionFailed as exc:
        return done(error=str(exc), code="dns")
    headers = headers_for(secrets=secrets, message_id=message_id, body=body, now=time.time())
    headers["host"] = _host_header(target)
    pool = _pool(target)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            raw = response.read(EXCERPT_BYTES, decode_content=False) or b""
        finally:
            response.close()
        return done(response.status, raw[:EXCERPT_BYTES].decode("utf-8", "replace"))
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of the timeout error
        return done(error=f"connection failed: {exc}", code="connection")
    except urllib3.exceptions.TimeoutError as exc:
        return done(error=f"no answer in time: {exc}", code="timeout")
    except urllib3.exceptions.SSLError as exc:
        return done(error=f"TLS: {exc}", code="tls")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return done(error=f"connection failed: {exc}", code="connection")
    finally:
        pool.close()
