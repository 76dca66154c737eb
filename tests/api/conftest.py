"""API personas: each employee with a key of every scope, and a client that sends it."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from api.keys import key_create

ALL_SCOPES = ["read", "send", "templates"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    cache.clear()  # rate-limit windows


class Api:
    """The test client speaking JSON with a key."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"HTTP_ACCEPT_LANGUAGE": "en"}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        for name, value in (extra or {}).items():
            headers["HTTP_" + name.upper().replace("-", "_")] = value
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(f"/api/v1{path}", params or {}, **self._headers(headers))

    def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            **self._headers(headers),
        )

    def patch(self, path: str, body: Any, *, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(
            f"/api/v1{path}",
            json.dumps(body),
            content_type="application/json",
            **self._headers(headers),
        )

    def upload(self, path: str, data: dict[str, Any], *, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", data, **self._headers(headers))


def api_for(user: User, scopes: list[str] | None = None) -> Api:
    _key, token = key_create(owner=user, name="tests", scopes=scopes or ALL_SCOPES)
    return Api(token)


@pytest.fixture
def sender_api(sender: User) -> Api:
    return api_for(sender)


@pytest.fixture
def colleague_api(colleague: User) -> Api:
    return api_for(colleague)


@pytest.fixture
def manager_api(manager: User) -> Api:
    return api_for(manager)
