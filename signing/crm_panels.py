"""What signing shows on CRM pages, contributed through crm.panels (registered in
SigningConfig.ready): crm's templates name no signing tag or URL."""

from typing import Any

from django.template import Context
from django.template.loader import render_to_string

from crm import panels
from signing.templatetags.signing_status import (
    deal_send_template_form,
    deal_signing_status,
    invoice_signature_action,
    invoice_signing_status,
)


def _render(template_name: str, context: Context, data: dict[str, Any]) -> str:
    return render_to_string(template_name, data, request=context.get("request"))


def deal_panel(context: Context, deal: Any) -> str:
    """The deal's envelopes, and for someone who may edit the deal the form to send a document
    made from a template."""
    html = _render("signing/_deal_status.html", context, deal_signing_status(deal))
    if context.get("can_edit"):
        data = deal_send_template_form(context, deal)
        html += _render("signing/_deal_send_template.html", context, data)
    return html


def invoice_panel(context: Context, invoice: Any) -> str:
    return _render("signing/_deal_status.html", context, invoice_signing_status(invoice))


def invoice_action(context: Context, invoice: Any) -> str:
    data = invoice_signature_action(context, invoice)
    return _render("signing/_invoice_action.html", context, data)


def company_panel(context: Context, company: Any) -> str:
    return _render("signing/_company_stamp_link.html", context, {"company": company})


def register() -> None:
    panels.register("deal", deal_panel)
    panels.register("invoice", invoice_panel)
    panels.register("invoice_action", invoice_action)
    panels.register("company", company_panel)
