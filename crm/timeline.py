"""What a deal's timeline says, worded when it is read, in the reader's language.

A `DealEvent` stores a kind and its parameters (names, numbers, codes), never a sentence: the
sentence is built here at display time, so an English reader sees English lines even for
events a French signer caused. Parameters that depend on the language are stored in a form
the reader's language can be picked from: a stage as {"fr": ..., "en": ...}, an amount as
{"amount": "8925.37", "currency": "EUR"}, an invoice status as its code.

Other apps add their kinds here (signing's document_* and party_* kinds): `crm` still imports
none of them, it only knows the words.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from signflow.money import format_money


@dataclass(frozen=True)
class Kind:
    label: Promise
    sentence: Promise | None = None
    # For sentences whose shape depends on the parameters (an optional part).
    build: Callable[[Mapping[str, Any]], str] | None = None


def _write_back(params: Mapping[str, Any]) -> str:
    from crm.models import Counterparty

    attribute = str(params.get("attribute", ""))
    try:
        field = str(getattr(Counterparty._meta.get_field(attribute), "verbose_name", attribute))
    except Exception:  # an attribute that no longer exists: show its name
        field = attribute
    values = {
        "field": field.capitalize(),
        "counterparty": params.get("counterparty", ""),
        "value": params.get("value", ""),
    }
    if params.get("old"):
        return gettext(
            "%(field)s of %(counterparty)s set from a signed document: “%(value)s” (was “%(old)s”)."
        ) % {**values, "old": params["old"]}
    return gettext("%(field)s of %(counterparty)s set from a signed document: “%(value)s”.") % (
        values
    )


def _cancelled(params: Mapping[str, Any]) -> str:
    if params.get("reason"):
        return gettext("Signature cancelled: %(title)s. Reason: %(reason)s") % params
    return gettext("Signature cancelled: %(title)s.") % params


KINDS: dict[str, Kind] = {
    "created": Kind(_("Created"), _("Deal created, stage “%(stage)s”.")),
    "stage_changed": Kind(_("Stage changed"), _("Stage changed from “%(old)s” to “%(new)s”.")),
    "stage_on_signature": Kind(
        _("Stage changed"),
        _("“%(title)s” is signed: the deal moves from “%(old)s” to “%(new)s”."),
    ),
    "invoice_created": Kind(
        _("Invoice created"), _("Invoice %(number)s created: %(gross)s incl. VAT.")
    ),
    "invoice_status": Kind(_("Invoice status"), _("Invoice %(number)s: %(status)s.")),
    "invoice_signed": Kind(_("Invoice signed"), _("Invoice %(number)s is signed.")),
    "document_created": Kind(_("Document prepared"), _("Document prepared: %(title)s.")),
    "document_discarded": Kind(_("Draft discarded"), _("Draft discarded: %(title)s.")),
    "document_sent": Kind(_("Document sent"), _("Sent for signature: %(title)s.")),
    "party_signed": Kind(_("Signed"), _("%(name)s signed “%(title)s”.")),
    "signed": Kind(_("Signed and sealed"), _("Signed by every party and sealed: %(title)s.")),
    "declined": Kind(_("Declined"), _("%(name)s declined “%(title)s”: %(reason)s")),
    "cancelled": Kind(_("Cancelled"), build=_cancelled),
    "expired": Kind(_("Expired"), _("Signature expired: %(title)s.")),
    "sealing_failed": Kind(_("Sealing failed"), _("Sealing failed: %(title)s.")),
    "write_back": Kind(_("Client data updated"), build=_write_back),
    "note": Kind(_("Note")),
}


def stage_param(stage: Any) -> dict[str, str]:
    """A stage as a parameter: both names, the reader's is picked when shown."""
    return {"fr": stage.name_fr or stage.name_en, "en": stage.name_en or stage.name_fr}


def money_param(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency": currency}


def _localized(name: str, value: Any) -> Any:
    if isinstance(value, dict):
        if "amount" in value and "currency" in value:
            try:
                return format_money(Decimal(str(value["amount"])), str(value["currency"]))
            except InvalidOperation:
                return ""
        if "fr" in value or "en" in value:
            language = (translation.get_language() or "fr")[:2]
            return value.get(language) or value.get("fr") or value.get("en") or ""
    if name == "status":
        from crm.models import Invoice

        try:
            return str(Invoice.Status(value).label).lower()
        except ValueError:
            return value
    return value


def kind_label(kind: str) -> str:
    entry = KINDS.get(kind)
    return str(entry.label) if entry else kind.replace("_", " ")


def sentence(kind: str, params: Mapping[str, Any], text: str = "") -> str:
    """The event in the active language; `text` is a note's words, or the sentence an event
    stored before parameters existed (kept as it was written)."""
    entry = KINDS.get(kind)
    if entry is None or not (entry.sentence or entry.build) or not params:
        return text
    values = {name: _localized(name, value) for name, value in params.items()}
    try:
        if entry.build is not None:
            return entry.build(values)
        assert entry.sentence is not None
        return str(entry.sentence) % values
    except (KeyError, TypeError, ValueError):
        # Parameters of an older shape: say what is known rather than fail the page.
        return text or str(entry.label)
