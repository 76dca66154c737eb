"""Where a webhook may be sent: resolve the host first, then refuse internal addresses.

A manager types any URL; without this check a delivery could reach the metadata service of the
cloud (169.254.169.254), the database port of a neighbour or the admin of a router. The answer
of the resolver is checked (every address it gives), and the delivery then connects to that
very address, so a second lookup cannot return another one (DNS rebinding).
SIGNFLOW_WEBHOOK_ALLOWED_HOSTS names the hosts, addresses or networks allowed anyway (a
receiver on the same private network, tests on 127.0.0.1).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL leads to an address a webhook may not reach (code `address_refused`)."""


class ResolutionFailed(Exception):
    """The host name does not resolve (now): worth another try later."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (for Host and SNI)
    port: int
    path: str  # path and query, as written
    address: str  # the checked IP address to connect to


def _ip(value: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def is_internal(ip: IPAddress) -> bool:
    """Private, loopback, link-local, shared, reserved, multicast or unspecified."""
    return not ip.is_global or ip.is_multicast


def _allowed(host: str, ip: IPAddress) -> bool:
    for entry in settings.SIGNFLOW_WEBHOOK_ALLOWED_HOSTS:
        if entry.lower() == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_address(host: str, ip: IPAddress) -> None:
    if is_internal(ip) and not _allowed(host, ip):
        raise AddressRefused(f"{host} resolves to {ip}, an internal address")


def split(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise AddressRefused(f"not an http(s) URL: {url[:100]}")
    port = parts.port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path


def literal_refusal(url: str) -> str | None:
    """For the form: a URL whose host is an internal IP address (or localhost) written out.

    Host names are resolved when a delivery is sent, not while a manager types."""
    try:
        _scheme, host, _port, _path = split(url)
    except (AddressRefused, ValueError) as exc:
        return str(exc)
    ip = _ip(host)
    if ip is None and host.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
        ip = ipaddress.ip_address("127.0.0.1")
    if ip is None:
        return None
    try:
        check_address(host, ip)
    except AddressRefused as exc:
        return str(exc)
    return None


def resolve(url: str) -> Target:
    """The URL's parts and one checked address to connect to; refuses if any address is internal."""
    try:
        scheme, host, port, path = split(url)
    except ValueError as exc:  # a port out of range
        raise AddressRefused(str(exc)) from exc
    literal = _ip(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ResolutionFailed(f"{host} does not resolve: {exc}") from exc
        addresses = [ip for info in infos if (ip := _ip(str(info[4][0]))) is not None]
        if not addresses:
            raise ResolutionFailed(f"{host} resolves to no address")
    # Every address: a name that answers one public and one internal address must not get
    # its delivery sent to the internal one by chance or by a second lookup.
    for ip in addresses:
        check_address(host, ip)
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))
