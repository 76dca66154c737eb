"""Per-key rate limit: 429 with Retry-After past the limit, other keys unaffected, and with
Redis unreachable the API keeps answering (the limit fails open, as verification's)."""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from signflow.cache import caches_for
from tests.api.conftest import Api, api_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def early_in_a_minute():
    """Windows are calendar minutes: start each test 5 s into one, so none rolls over."""
    import datetime

    import time_machine

    with time_machine.travel(datetime.datetime(2026, 11, 30, 12, 0, 5, tzinfo=datetime.UTC)):
        yield


def test_a_key_past_its_limit_gets_429_with_retry_after(settings, sender: User) -> None:
    settings.SIGNFLOW_API_RATE_PER_MINUTE = 3
    api = api_for(sender)
    assert [api.get("/deals").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/deals")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    # Writes count too, and are refused before doing anything.
    assert api.post("/counterparties", {"legal_name": "Acme"}).status_code == 429
    from crm.models import Counterparty

    assert not Counterparty.objects.exists()


def test_the_limit_is_per_key(settings, sender: User, colleague: User) -> None:
    settings.SIGNFLOW_API_RATE_PER_MINUTE = 2
    first, second = api_for(sender), api_for(colleague)
    for _ in range(3):
        first.get("/deals")
    assert first.get("/deals").status_code == 429
    assert second.get("/deals").status_code == 200


def test_requests_without_a_valid_key_are_not_counted_against_one(settings, sender: User) -> None:
    settings.SIGNFLOW_API_RATE_PER_MINUTE = 2
    api = api_for(sender)
    for _ in range(5):
        assert Api("sf_nothere_x").get("/deals").status_code == 401
    assert api.get("/deals").status_code == 200


def test_with_redis_down_the_api_answers(settings, sender: User) -> None:
    settings.SIGNFLOW_API_RATE_PER_MINUTE = 1
    settings.CACHES = {"default": caches_for("redis://127.0.0.1:18699/0")}  # nothing listens
    try:
        api = api_for(sender)
        assert [api.get("/deals").status_code for _ in range(3)] == [200, 200, 200]
    finally:
        cache.close()
