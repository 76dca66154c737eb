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


@register.inclusion_tag("signing/_invoice_action.html", takes_context=True)
def invoice_signature_action(context: template.Context, invoice: Any) -> dict[str, Any]:
    """What an invoice offers about its signature: "Send for signature" (with the document's
    language) when it has no envelope, the draft or the request in progress when it has one,
    "Signed" with the sealed PDF once signed: one document per invoice (signing.services)."""
    from django.utils.translation import get_language

    from signing.models import Envelope
    from signing.services import current_envelope, invoice_source

    envelope = current_envelope(invoice_source(invoice.pk))
    return {
        "invoice": invoice,
        "envelope": envelope,
        # A cancelled invoice is not signed; a signed one has its envelope above.
        "can_send": invoice.status in {"draft", "issued", "paid"},
        "languages": Envelope.Language.choices,
        "language": (get_language() or "fr")[:2],
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("signing/_deal_send_template.html", takes_context=True)
def deal_send_template_form(context: template.Context, deal: Any) -> dict[str, Any]:
    """A form to send a document made from a template (agreement, NDA...) for this deal."""
    from django.utils.translation import get_language

    from documents.models import DocumentTemplate

    language = (get_language() or "fr")[:2]
    templates = DocumentTemplate.objects.exclude(kind=DocumentTemplate.Kind.INVOICE).order_by(
        "kind", "name"
    )
    preferred = [t for t in templates if t.language == language] or list(templates)
    return {"deal": deal, "templates": preferred, "csrf_token": context.get("csrf_token")}
