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


# The longest files first (seconds in one process, `pytest --durations=0`, Dec 2026). Under
# `make test` (`--dist loadfile`) a file is one unit of work and the units are handed out in
# collection order: starting the long ones first lets the processes finish together instead of
# one of them starting a three-minute file when the other is nearly done. pytest-django sorts
# afterwards (stable): tests that flush the database still run after the others.
LONGEST_FIRST = (
    "tests/faults/test_worker_kill.py",
    "tests/test_accessibility.py",
    "tests/verification/test_lta.py",
    "tests/security/test_access_matrix.py",
    "tests/security/test_pdf_bombs.py",
    "tests/test_phone_widths.py",
    "tests/security/test_csp_browser.py",
    "tests/signing/test_sealing_failures.py",
    "tests/security/test_sqlite_wal.py",
    "tests/verification/test_explanations.py",
    "tests/test_weight.py",
    "tests/verification/test_privacy.py",
    "tests/security/test_signer_links.py",
    "tests/verification/test_certificate_record.py",
    "tests/security/test_properties.py",
    "tests/test_demo_browser.py",
)


@pytest.hookimpl(tryfirst=True)  # before pytest-django's sort, which keeps transactional tests last
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
