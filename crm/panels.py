"""Panels other apps contribute to CRM pages, so that crm's templates name no other app.

`crm` is the lowest app: it imports none of the others, and its templates must not load their
template tags or reverse their URLs either (a dependency the import graph would not show). An
app that has something to show on a CRM page registers a panel for a slot in its
`AppConfig.ready`; the page renders the slot with `{% panels "deal" deal %}` (crm_panels).

Slots: "deal" (the deal page's Signature section), "invoice" (the invoice page's Signature
section), "invoice_action" (next to an invoice: send it, reopen it...), "company" (the own
company form: the company stamp).
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.template import Context
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

# A panel gets the page's template context and the page's object, and returns safe HTML.
Panel = Callable[[Context, Any], str]

SLOTS = ("deal", "invoice", "invoice_action", "company")
_PANELS: dict[str, list[Panel]] = defaultdict(list)


def register(slot: str, panel: Panel) -> None:
    """Add `panel` to `slot` (once, however often an app's ready() runs)."""
    if slot not in SLOTS:
        raise ValueError(f"Unknown CRM panel slot {slot!r}; known: {', '.join(SLOTS)}")
    if panel not in _PANELS[slot]:
        _PANELS[slot].append(panel)


def render(slot: str, context: Context, obj: Any) -> SafeString:
    """Every panel of `slot` for `obj`, in registration order."""
    return format_html_join("", "{}", ((panel(context, obj),) for panel in _PANELS[slot]))
