"""Money shown per locale: "1 234,56 €" in French, "€1,234.56" in English."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils import translation

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}
NBSP = "\u00a0"


def format_money(
    amount: Decimal | int | str | None, currency: str = "EUR", lang: str | None = None
) -> str:
    if amount is None or amount == "":
        return ""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    lang = (lang or translation.get_language() or "fr")[:2]
    sign = "-" if value < 0 else ""
    units, cents = f"{abs(value):.2f}".split(".")
    groups: list[str] = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    symbol = _SYMBOLS.get(currency, currency)
    if lang == "fr":
        return f"{sign}{NBSP.join(groups)},{cents}{NBSP}{symbol}"
    number = f"{','.join(groups)}.{cents}"
    if symbol in {"€", "$", "£"}:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number}{NBSP}{symbol}"
