"""Identifier and phone checks for CRM requisites.

Each `clean_*` function takes what a person typed, returns the value as stored (compact
identifiers, E.164 phones) or raises ValidationError naming the check that failed.
"""

from collections.abc import Callable
from typing import Protocol

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import bic, iban
from stdnum.eu import vat
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
)
from stdnum.exceptions import (
    ValidationError as StdnumError,
)
from stdnum.fr import siren, siret

DEFAULT_PHONE_REGION = "FR"


def _stdnum_message(exc: StdnumError, label: str) -> str:
    if isinstance(exc, InvalidLength):
        return _("%(label)s: the length is wrong.") % {"label": label}
    if isinstance(exc, InvalidChecksum):
        return _("%(label)s: the check digits do not match (a typo?).") % {"label": label}
    if isinstance(exc, InvalidComponent):
        return _("%(label)s: the country or a part of the number is not valid.") % {"label": label}
    if isinstance(exc, InvalidFormat):
        return _(
            "%(label)s: the format is wrong (too short, too long or unexpected characters)."
        ) % {"label": label}
    return _("%(label)s: the number is not valid.") % {"label": label}


class _StdnumModule(Protocol):
    """A python-stdnum number module (stdnum.iban, stdnum.fr.siren...)."""

    def validate(self, number: str) -> object: ...


def _stdnum_clean(value: str, module: _StdnumModule, label: str, code: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return str(module.validate(value))
    except StdnumError as exc:
        raise ValidationError(_stdnum_message(exc, label), code=code) from exc


def clean_iban(value: str) -> str:
    return _stdnum_clean(value, iban, "IBAN", "iban")


def clean_bic(value: str) -> str:
    return _stdnum_clean(value, bic, "BIC", "bic")


def clean_siren(value: str) -> str:
    return _stdnum_clean(value, siren, "SIREN", "siren")


def clean_siret(value: str) -> str:
    return _stdnum_clean(value, siret, "SIRET", "siret")


def clean_vat_number(value: str) -> str:
    return _stdnum_clean(value, vat, _("VAT number"), "vat_number")


def clean_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """A phone number as typed ("06 12 34 56 78", "+44 7700 900123") -> E.164."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("Phone: this is not a phone number (use digits, e.g. 06 12 34 56 78)."),
            code="phone",
        ) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(
            _("Phone: the number has the wrong length for its country."), code="phone"
        )
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("Phone: no such number exists in this country's numbering plan."), code="phone"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone_national(value: str) -> str:
    """E.164 -> national format for display ("+33612345678" -> "06 12 34 56 78")."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return value
    if number.country_code == phonenumbers.country_code_for_region(DEFAULT_PHONE_REGION):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def check_siret_matches_siren(*, siren_value: str, siret_value: str) -> None:
    if siren_value and siret_value and not siret_value.startswith(siren_value):
        raise ValidationError(
            _("SIRET: the first nine digits must be the SIREN (%(siren)s).")
            % {"siren": siren_value},
            code="siret",
        )


# Cleaners by field name, shared by forms and the write-back service.
CLEANERS: dict[str, Callable[[str], str]] = {
    "iban": clean_iban,
    "bic": clean_bic,
    "siren": clean_siren,
    "siret": clean_siret,
    "vat_number": clean_vat_number,
    "phone": clean_phone,
    "director_phone": clean_phone,
}
