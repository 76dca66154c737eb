"""`{% panels "deal" deal %}`: what other apps contribute to a CRM page (crm.panels)."""

from typing import Any

from django import template
from django.utils.safestring import SafeString

from crm import panels as registry

register = template.Library()


@register.simple_tag(takes_context=True)
def panels(context: template.Context, slot: str, obj: Any) -> SafeString:
    return registry.render(slot, context, obj)
