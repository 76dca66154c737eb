"""CRM test helpers: English pages unless a test asks for French, and a deal of the sender."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from crm.models import Deal, OwnCompany
from tests import factories


@pytest.fixture(autouse=True)
def english(settings: object) -> None:
    settings.LANGUAGE_CODE = "en"  # type: ignore[attr-defined]


@pytest.fixture
def deal(company: OwnCompany, sender: User) -> Deal:
    return factories.make_deal(company=company, responsible=sender)


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client
