"""Oversight: the team page (managers only) and roles managed in the app."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from crm.models import Employee
from signing import selectors
from signing.models import Envelope

pytestmark = pytest.mark.django_db


def test_the_team_page_is_for_managers_only(client: Client, sender, outsider, manager):
    for user in (sender, outsider):
        client.force_login(user)
        assert client.get("/board/team/").status_code == 403
        assert client.get("/board/team/roles/").status_code == 403
        assert (
            client.post("/board/team/roles/", {"employee": "1", "role": "manager"}).status_code
            == 403
        )
    client.force_login(manager)
    assert client.get("/board/team/").status_code == 200


def test_the_team_page_numbers(client: Client, sender, manager, many_envelopes):
    now = timezone.now()
    mine = Envelope.objects.filter(responsible=sender)
    # One of the sender's envelopes completed this month, two days after it was sent.
    done = mine.exclude(status="draft").first()
    Envelope.objects.filter(responsible=sender, status="completed").update(
        completed_at=now - timedelta(days=200)
    )
    Envelope.objects.filter(pk=done.pk).update(
        status="completed", sent_at=now - timedelta(days=2), completed_at=now
    )
    overview = selectors.team_overview(now=now)
    row = next(r for r in overview["rows"] if r["employee"].user_id == sender.pk)
    assert row["signed_month"] == 1
    assert row["median"] == "2 days"
    assert sum(row["columns"]) == mine.count()
    expected_overdue = mine.filter(status__in=Envelope.OPEN_STATUSES, deadline__lt=now).count()
    assert row["overdue"] == expected_overdue
    declined = mine.filter(status="declined")
    assert row["declined_count"] == declined.count()
    assert all(e.closed_reason for e in row["declined"])
    assert sum(w["count"] for w in overview["weeks"]) >= 1
    client.force_login(manager)
    html = client.get("/board/team/").content.decode()
    assert "<svg" in html and 'class="bar"' in html
    assert f'data-employee="{sender.username}"' in html


def test_a_manager_switches_roles_and_the_last_manager_stays(client: Client, sender, manager):
    client.force_login(manager)
    employee = Employee.objects.get(user=sender)
    response = client.post("/board/team/roles/", {"employee": employee.pk, "role": "manager"})
    assert response.status_code == 302
    employee.refresh_from_db()
    assert employee.role == "manager"
    # The promoted employee now sees everyone's envelopes.
    assert selectors.is_manager(User.objects.get(pk=sender.pk))
    client.post("/board/team/roles/", {"employee": employee.pk, "role": "employee"})
    employee.refresh_from_db()
    assert employee.role == "employee"
    own = Employee.objects.get(user=manager)
    response = client.post(
        "/board/team/roles/", {"employee": own.pk, "role": "employee"}, follow=True
    )
    own.refresh_from_db()
    assert own.role == "manager"
    assert "Keep at least one manager" in response.content.decode()
    html = client.get("/board/team/roles/").content.decode()
    assert f'data-employee="{sender.username}"' in html


def test_the_weekly_chart_has_numeric_coordinates_in_french(
    client: Client, manager, many_envelopes
):
    import re

    client.force_login(manager)
    client.cookies["django_language"] = "fr"
    page = client.get("/board/team/").content.decode()
    svg = page[page.index("<svg") : page.index("</svg>")]
    coordinates = re.findall(r'\b(?:x|y|width|height)="([^"]*)"', svg)
    assert coordinates
    assert all(re.fullmatch(r"-?\d+(\.\d+)?%?", value) for value in coordinates), coordinates
