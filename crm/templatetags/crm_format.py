from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats

from crm.validators import format_phone_national

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """{{ contact.phone|phone }}: "+33612345678" -> "06 12 34 56 78"."""
    return format_phone_national(value)


@register.filter
def rate(value: object) -> str:
    """{{ line.vat_rate|rate }}: Decimal("5.50") -> "5,5" (fr) or "5.5" (en); "20.00" -> "20"."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return formats.number_format(Decimal(f"{number.normalize():f}"))
