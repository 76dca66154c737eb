"""Personas shared by every test: a sender, a colleague, a manager and an outsider."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from crm.models import OwnCompany
from tests import factories
from tests.browser_support import browser  # noqa: F401  (fixture for the browser tests)
from tests.render_cache import _memoised_renders  # noqa: F401  (autouse: renders run once)
from tests.softhsm import softhsm, softhsm_seal  # noqa: F401  (the seal key in SoftHSM2)


@pytest.fixture
def company(db: None) -> OwnCompany:
    return factories.make_company()


@pytest.fixture
def sender(company: OwnCompany) -> User:
    return factories.make_user("sophie.bernard", company=company)


@pytest.fixture
def colleague(company: OwnCompany) -> User:
    return factories.make_user("lucas.petit", company=company)


@pytest.fixture
def manager(company: OwnCompany) -> User:
    return factories.make_user("marc.lefevre", company=company, role="manager")


@pytest.fixture
def outsider(db: None) -> User:
    return factories.make_user("eve.outsider", company=None)


@pytest.fixture
def sender_client(client: Client, sender: User) -> Client:
    client.force_login(sender)
    return client
