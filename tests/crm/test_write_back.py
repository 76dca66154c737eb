import pytest

from crm.models import Deal, DealEvent
from crm.services import counterparty_write_back
from signflow.errors import SignFlowError


def test_a_signed_address_is_written_to_the_counterparty_and_the_timeline(deal: Deal) -> None:
    counterparty = counterparty_write_back(
        counterparty=deal.counterparty,
        attribute="address",
        value="5 rue Neuve\n75011 Paris",
        deal=deal,
    )
    counterparty.refresh_from_db()
    assert counterparty.address == "5 rue Neuve\n75011 Paris"
    event = deal.timeline.get(kind=DealEvent.Kind.WRITE_BACK)
    assert "5 rue Neuve" in event.sentence
    assert "3 place du Marché" in event.sentence  # the previous value is kept in the timeline


def test_a_signed_siret_is_normalised_before_it_is_stored(deal: Deal) -> None:
    counterparty_write_back(
        counterparty=deal.counterparty, attribute="siret", value="552 100 554 00005", deal=deal
    )
    deal.counterparty.refresh_from_db()
    assert deal.counterparty.siret == "55210055400005"


def test_a_signed_phone_is_stored_in_e164(deal: Deal) -> None:
    counterparty_write_back(
        counterparty=deal.counterparty, attribute="phone", value="06 11 22 33 44"
    )
    deal.counterparty.refresh_from_db()
    assert deal.counterparty.phone == "+33611223344"


def test_an_invalid_signed_value_is_refused_and_nothing_changes(deal: Deal) -> None:
    with pytest.raises(SignFlowError, match="SIREN: the check digits do not match") as info:
        counterparty_write_back(
            counterparty=deal.counterparty, attribute="siren", value="552100555", deal=deal
        )
    assert list(info.value.fields) == ["siren"]
    deal.counterparty.refresh_from_db()
    assert deal.counterparty.siren == "552100554"
    assert not deal.timeline.filter(kind=DealEvent.Kind.WRITE_BACK).exists()


def test_an_attribute_outside_the_whitelist_is_refused(deal: Deal) -> None:
    with pytest.raises(SignFlowError, match="cannot be written back"):
        counterparty_write_back(
            counterparty=deal.counterparty, attribute="kind", value="individual"
        )
    deal.counterparty.refresh_from_db()
    assert deal.counterparty.kind == "company"


def test_a_bad_email_is_refused(deal: Deal) -> None:
    with pytest.raises(SignFlowError) as info:
        counterparty_write_back(
            counterparty=deal.counterparty, attribute="email", value="pas-un-email"
        )
    assert list(info.value.fields) == ["email"]


def test_without_a_deal_the_value_is_stored_without_a_timeline_event(deal: Deal) -> None:
    counterparty_write_back(counterparty=deal.counterparty, attribute="legal_form", value="SAS")
    deal.counterparty.refresh_from_db()
    assert deal.counterparty.legal_form == "SAS"
    assert not DealEvent.objects.filter(kind=DealEvent.Kind.WRITE_BACK).exists()
