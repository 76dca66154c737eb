"""Every CRM write goes through crm.services, with its actor in the admin history (LogEntry),
and a GET writes nothing."""

import json
import threading

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client

from crm import services
from crm.models import Contact, DealStage, Employee, OwnCompany
from signflow.errors import Conflict, SignFlowError
from tests import factories
from tests.crm.conftest import login

APPS = ("crm", "documents", "signing", "verification", "webhooks", "bulk", "admin")


def row_counts() -> dict[str, int]:
    """Rows of every model of ours (and the admin history): a GET must leave them as they were."""
    return {
        model._meta.label: model.objects.count()
        for label in APPS
        for model in apps.get_app_config(label).get_models()
    }


def history(obj: object) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=str(obj.pk)).order_by("id"))  # type: ignore[attr-defined]


# --- Roles --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_role_change_is_recorded_with_who_made_it(sender: User, manager: User) -> None:
    employee = Employee.objects.get(user=sender)
    services.employee_set_role(employee=employee, role="manager", actor=manager)
    employee.refresh_from_db()
    assert employee.role == "manager"
    [entry] = history(employee)
    assert entry.user_id == manager.pk and entry.action_flag == CHANGE
    assert entry.change_message == "Role changed from employee to manager"


@pytest.mark.django_db
def test_a_refused_role_change_writes_nothing(manager: User) -> None:
    own = Employee.objects.get(user=manager)
    with pytest.raises(Conflict) as refused:
        services.employee_set_role(employee=own, role="employee", actor=manager)
    assert refused.value.code == "last_manager" and refused.value.status == 409
    with pytest.raises(SignFlowError) as invalid:
        services.employee_set_role(employee=own, role="boss", actor=manager)
    assert invalid.value.code == "invalid_role" and "role" in invalid.value.fields
    own.refresh_from_db()
    assert own.role == "manager"
    assert history(own) == []


@pytest.mark.django_db
def test_an_inactive_manager_does_not_count_as_the_other_manager(
    sender: User, manager: User
) -> None:
    gone = Employee.objects.get(user=sender)
    gone.role = "manager"
    gone.save()
    User.objects.filter(pk=sender.pk).update(is_active=False)
    with pytest.raises(Conflict):
        services.employee_set_role(
            employee=Employee.objects.get(user=manager), role="employee", actor=manager
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_managers_demoting_each_other_at_once_leave_one_manager(company: OwnCompany) -> None:
    first = factories.make_user("anne.first", company=company, role="manager")
    second = factories.make_user("bruno.second", company=company, role="manager")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor: User, target: User) -> None:
        try:
            barrier.wait()
            services.employee_set_role(
                employee=Employee.objects.get(user=target), role="employee", actor=actor
            )
            outcomes.append("demoted")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["demoted", "last_manager"]
    assert Employee.objects.filter(role="manager").count() == 1
    assert LogEntry.objects.count() == 1


# --- Counterparties, contacts, companies, pipeline ---------------------------------------------


@pytest.mark.django_db
def test_a_counterparty_edit_writes_only_what_changed_and_who_did_it(
    client: Client, sender: User
) -> None:
    counterparty = factories.make_counterparty()
    response = login(client, sender).post(
        f"/crm/counterparties/{counterparty.pk}/edit/",
        {
            "kind": counterparty.kind,
            "legal_name": "Atelier Lumière SARL",
            "legal_form": counterparty.legal_form,
            "siren": counterparty.siren,
            "email": counterparty.email,
            "phone": counterparty.phone,
            "address": counterparty.address,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    counterparty.refresh_from_db()
    assert counterparty.legal_name == "Atelier Lumière SARL"
    [entry] = history(counterparty)
    assert entry.user_id == sender.pk
    assert json.loads(entry.change_message) == [{"changed": {"fields": ["legal_name"]}}]


@pytest.mark.django_db
def test_a_new_contact_is_recorded_as_an_addition(client: Client, sender: User) -> None:
    counterparty = factories.make_counterparty()
    response = login(client, sender).post(
        f"/crm/counterparties/{counterparty.pk}/contacts/new/",
        {"name": "Paul Martin", "position": "CFO", "email": "paul@example.com", "phone": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = Contact.objects.get(name="Paul Martin")
    assert contact.counterparty == counterparty
    [entry] = history(contact)
    assert entry.action_flag == ADDITION and entry.user_id == sender.pk


@pytest.mark.django_db
def test_a_refused_contact_writes_nothing(client: Client, sender: User) -> None:
    counterparty = factories.make_counterparty()
    before = row_counts()
    response = login(client, sender).post(
        f"/crm/counterparties/{counterparty.pk}/contacts/new/",
        {"name": "", "email": "not an address"},
    )
    assert response.status_code == 200
    assert row_counts() == before


@pytest.mark.django_db
def test_a_second_company_marked_default_takes_the_default(client: Client, manager: User) -> None:
    first = OwnCompany.objects.get()
    response = login(client, manager).post(
        "/crm/companies/new/",
        {"legal_name": "Lumière Est SAS", "director_name": "Jeanne Roux", "is_default": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    second = OwnCompany.objects.get(legal_name="Lumière Est SAS")
    assert list(OwnCompany.objects.filter(is_default=True)) == [second]
    first.refresh_from_db()
    assert not first.is_default
    assert [e.action_flag for e in history(second)] == [ADDITION]


@pytest.mark.django_db
def test_the_pipeline_page_writes_nothing_on_get_and_offers_the_default_stages(
    client: Client, manager: User
) -> None:
    DealStage.objects.all().delete()
    before = row_counts()
    html = login(client, manager).get("/crm/stages/").content.decode()
    assert row_counts() == before
    assert 'value="Négociation"' in html and 'value="Lost"' in html
    # Saving the page as offered creates the default pipeline, with its history.
    data = {
        "form-TOTAL_FORMS": "6",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-5-position": "0",  # the empty row, as the browser posts it
    }
    for n, row in enumerate(services.default_stages()):
        data.update(
            {f"form-{n}-{name}": value for name, value in row.items() if value is not False}
        )
    response = client.post("/crm/stages/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(DealStage.objects.values_list("code", flat=True)) == [
        "new",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert LogEntry.objects.filter(action_flag=ADDITION, user=manager).count() == 5


@pytest.mark.django_db
def test_the_pipeline_service_keeps_one_signature_stage(manager: User) -> None:
    DealStage.objects.ensure_defaults()  # migrations seed them; a flushing test may have run before
    won, lost = DealStage.objects.get(code="won"), DealStage.objects.get(code="lost")
    services.pipeline_save(rows=[(won.pk, {"on_signature": True})], actor=manager)
    with pytest.raises(SignFlowError) as refused:
        services.pipeline_save(rows=[(lost.pk, {"on_signature": True})], actor=manager)
    assert refused.value.code == "on_signature" and "on_signature" in refused.value.fields
    assert list(DealStage.objects.filter(on_signature=True)) == [won]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/crm/stages/", "/crm/companies/new/", "/crm/counterparties/new/", "/crm/deals/new/"]
)
def test_crm_forms_write_nothing_on_get(client: Client, manager: User, url: str) -> None:
    factories.make_counterparty()
    # Migrations seed the pipeline; an earlier test of this process may have flushed the tables.
    DealStage.objects.ensure_defaults()
    before = row_counts()
    assert login(client, manager).get(url).status_code == 200
    assert row_counts() == before
