"""Signing status for CRM pages: `crm` never imports `signing`, its templates load this tag."""

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("signing/_deal_status.html")
def deal_signing_status(deal: Any) -> dict[str, Any]:
    """Every envelope of a deal with its stage, who signed and when."""
    from signing.selectors import envelopes_for_deal

    return {"envelopes": envelopes_for_deal(deal_id=deal.pk)}


@register.inclusion_tag("signing/_deal_status.html")
def invoice_signing_status(invoice: Any) -> dict[str, Any]:
    from signing.selectors import envelopes_for_invoice

    return {"envelopes": envelopes_for_invoice(invoice_id=invoice.pk)}
