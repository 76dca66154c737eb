from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory

from crm.models import (
    Contact,
    Counterparty,
    Deal,
    DealEvent,
    Employee,
    Invoice,
    InvoiceLine,
    OwnCompany,
)
from crm.validators import clean_iban, clean_siren, clean_siret, clean_vat_number

MODELS = [OwnCompany, Employee, Counterparty, Contact, Deal, DealEvent, Invoice, InvoiceLine]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_creates_the_french_demo_world(db: None, capsys: object) -> None:
    call_command("seed_demo")
    company = OwnCompany.objects.get(legal_name="Atelier Lumière SAS")
    assert company.is_default
    assert clean_siren(company.siren) == company.siren
    assert clean_siret(company.siret) == company.siret
    assert clean_vat_number(company.vat_number) == company.vat_number
    assert clean_iban(company.iban) == company.iban
    assert company.director_name and company.director_email and company.director_phone
    assert Counterparty.objects.get(legal_name="Boulangerie Martin SARL").contacts.filter(
        name="Paul Martin"
    )
    assert Counterparty.objects.get(legal_name="Julie Moreau").kind == "individual"
    assert Deal.objects.count() >= 3
    assert {d.responsible.username for d in Deal.objects.all()} == {"employe1", "employe2"}
    rates = set(InvoiceLine.objects.values_list("vat_rate", flat=True))
    assert {f"{r.normalize():f}" for r in rates} >= {"20", "5.5"}
    assert Employee.objects.get(user__username="manager").is_manager


def test_seed_demo_prints_logins_that_work(db: None, capsys: object) -> None:
    call_command("seed_demo")
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "demo-signflow" in out
    for username in ("manager", "employe1", "employe2"):
        assert username in out
        request = RequestFactory().post("/login/")  # the login throttle needs the request
        assert authenticate(request, username=username, password="demo-signflow") is not None


def test_seed_demo_run_twice_creates_nothing_new(db: None) -> None:
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first


def test_seed_demo_makes_no_administrator_without_debug(db: None, settings) -> None:
    settings.DEBUG = False
    call_command("seed_demo")
    assert not User.objects.filter(is_superuser=True).exists()
    assert not User.objects.filter(is_staff=True).exists()


def test_under_debug_the_demo_manager_administers_the_crm(db: None, settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo")
    assert set(User.objects.filter(is_superuser=True).values_list("username", flat=True)) == {
        "manager"
    }


def test_a_demo_administrator_loses_the_rights_when_seeded_again_without_debug(
    db: None, settings
) -> None:
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False
    call_command("seed_demo")
    manager = User.objects.get(username="manager")
    assert not manager.is_staff and not manager.is_superuser
