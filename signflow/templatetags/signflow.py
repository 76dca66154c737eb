from decimal import Decimal

from django import template

from signflow.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str = "EUR") -> str:
    """{{ invoice_total|money:"EUR" }} -> "1 234,56 €" (fr) or "€1,234.56" (en)."""
    return format_money(amount, currency or "EUR")
