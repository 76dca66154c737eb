"""`{{ event|correction_summary }}`: what a correction changed, in the reader's language."""

from typing import Any

from django import template
from django.utils.translation import gettext as _

from signing.models import Event, Party

register = template.Library()

_PARTY_FIELDS = {
    "name": lambda: _("name"),
    "email": lambda: _("email address"),
    "phone": lambda: _("mobile number"),
    "channel": lambda: _("channel"),
}


@register.filter
def correction_summary(event: Event) -> str:
    changes: dict[str, Any] = (event.data or {}).get("changes", {})
    parts: list[str] = []
    for party in changes.get("parties", []):
        role = (
            str(Party.Role(party["role"]).label) if party.get("role") in Party.Role.values else ""
        )
        names = ", ".join(
            _PARTY_FIELDS[n]() for n in party.get("changed", []) if n in _PARTY_FIELDS
        )
        parts.append(f"{role}: {names}")
    fields = changes.get("fields", {})
    if fields:
        counts = {
            "added": _("%d field(s) added"),
            "removed": _("%d field(s) removed"),
            "changed": _("%d field(s) changed"),
        }
        parts.extend(counts[k] % len(v) for k, v in fields.items() if k in counts)
    if "deadline" in changes:
        parts.append(_("deadline"))
    if changes.get("message"):
        parts.append(_("message"))
    return "; ".join(parts) if parts else _("nothing changed; new links sent")
