import pytest
from django.core.exceptions import ValidationError

from crm.validators import (
    clean_bic,
    clean_iban,
    clean_phone,
    clean_siren,
    clean_siret,
    clean_vat_number,
    format_phone_national,
)


def test_a_valid_iban_is_stored_compact() -> None:
    assert clean_iban("FR76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"


def test_an_iban_with_a_typo_fails_on_its_check_digits() -> None:
    with pytest.raises(ValidationError, match="IBAN: the check digits do not match"):
        clean_iban("FR7630006000011234567890188")


def test_an_iban_too_short_for_its_country_fails_on_its_format() -> None:
    # Check digits computed for the short number, so only the country's structure is wrong.
    with pytest.raises(ValidationError, match="IBAN: the format is wrong"):
        clean_iban("FR39300060000112345")


def test_an_iban_with_letters_where_digits_belong_fails_on_its_format() -> None:
    with pytest.raises(ValidationError, match="IBAN"):
        clean_iban("FR76-3000-6000-01!2")


def test_an_empty_identifier_is_allowed_and_stays_empty() -> None:
    assert clean_iban("  ") == ""
    assert clean_phone("") == ""


def test_a_valid_siren_passes() -> None:
    assert clean_siren("732 829 320") == "732829320"


def test_a_siren_with_a_wrong_luhn_digit_fails_on_its_check_digits() -> None:
    with pytest.raises(ValidationError, match="SIREN: the check digits do not match"):
        clean_siren("732829321")


def test_a_siren_of_eight_digits_fails_on_its_length() -> None:
    with pytest.raises(ValidationError, match="SIREN: the length is wrong"):
        clean_siren("73282932")


def test_a_valid_siret_passes() -> None:
    assert clean_siret("732 829 320 00074") == "73282932000074"


def test_a_siret_with_a_wrong_digit_fails_on_its_check_digits() -> None:
    with pytest.raises(ValidationError, match="SIRET: the check digits do not match"):
        clean_siret("73282932000075")


def test_a_valid_french_vat_number_passes() -> None:
    assert clean_vat_number("FR 44 732829320") == "FR44732829320"


def test_a_vat_number_whose_key_does_not_match_the_siren_fails_on_its_check_digits() -> None:
    with pytest.raises(ValidationError, match="VAT number: the check digits do not match"):
        clean_vat_number("FR45732829320")


def test_a_vat_number_of_an_unknown_country_fails_on_its_country() -> None:
    with pytest.raises(ValidationError, match="VAT number: the country"):
        clean_vat_number("XX123456789")


def test_a_valid_bic_passes() -> None:
    assert clean_bic("AGRIFRPP") == "AGRIFRPP"


def test_a_french_mobile_typed_nationally_is_stored_in_e164() -> None:
    assert clean_phone("06 12 34 56 78") == "+33612345678"


def test_a_foreign_number_with_its_prefix_is_kept_in_e164() -> None:
    assert clean_phone("+44 7911 123456") == "+447911123456"


def test_a_phone_with_letters_is_refused_as_not_a_phone_number() -> None:
    with pytest.raises(ValidationError, match="Phone: this is not a phone number"):
        clean_phone("appelez-moi")


def test_a_phone_too_short_is_refused_on_its_length() -> None:
    with pytest.raises(ValidationError, match="Phone: the number has the wrong length"):
        clean_phone("06 12 34")


def test_a_phone_outside_the_numbering_plan_is_refused() -> None:
    with pytest.raises(ValidationError, match="Phone: no such number exists"):
        clean_phone("+33 0 12 34 56 78")


def test_a_stored_phone_is_shown_in_national_format() -> None:
    assert format_phone_national("+33612345678") == "06 12 34 56 78"
    assert format_phone_national("+447911123456").startswith("+44 ")


def test_a_wrong_value_is_reported_in_french_when_the_page_is_french() -> None:
    from django.utils import translation

    with translation.override("fr"), pytest.raises(ValidationError) as info:
        clean_iban("FR7630006000011234567890188")
    assert "chiffres de contrôle" in info.value.messages[0]
