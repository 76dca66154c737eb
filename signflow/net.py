"""The client's IP address, as far as this deployment can vouch for it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address our own proxies saw when SIGNFLOW_TRUSTED_PROXIES says so.

    X-Forwarded-For is written by the client first and by each proxy after: only the entries
    our proxies appended (the last SIGNFLOW_TRUSTED_PROXIES ones) can be trusted. Taking the
    first entry would let a signer choose the IP address recorded in the audit trail.
    """
    proxies = settings.SIGNFLOW_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies and _is_ip(forwarded[-proxies]):
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
