"""The OpenAPI document validates (openapi-spec-validator), describes every endpoint with its
bearer security and error shape, and the docs page runs from our own static files under the
site's strict Content-Security-Policy (no CDN, no inline script)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate

from tests.security.test_csp import assert_strict_policy, inline_problems

pytestmark = pytest.mark.django_db


def test_the_openapi_document_validates(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in (
        "/api/v1/counterparties",
        "/api/v1/deals",
        "/api/v1/invoices",
        "/api/v1/templates",
        "/api/v1/documents",
        "/api/v1/documents/from-template",
        "/api/v1/envelopes",
        "/api/v1/envelopes/{envelope_id}",
        "/api/v1/envelopes/{envelope_id}/send",
        "/api/v1/envelopes/{envelope_id}/remind",
        "/api/v1/envelopes/{envelope_id}/cancel",
        "/api/v1/envelopes/{envelope_id}/parties/{party_id}/correct",
        "/api/v1/envelopes/{envelope_id}/sealed.pdf",
        "/api/v1/envelopes/{envelope_id}/certificate.pdf",
    ):
        assert path in paths, sorted(paths)
    operations = [op for item in paths.values() for op in item.values()]
    assert all(op.get("security") for op in operations)
    assert all("400" in op["responses"] or "404" in op["responses"] for op in operations)
    schemes = spec["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}


def test_the_verification_api_keeps_its_urls(client: Client) -> None:
    response = client.get("/api/verify/NOSUCHCODE12")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/api/verify" not in client.get("/api/v1/openapi.json").json()["paths"]


def test_the_docs_page_uses_our_static_files_under_a_strict_policy(client: Client) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert_strict_policy(response)
    assert not inline_problems(html)
    assert "cdn" not in html.lower() and "https://" not in html
    for asset in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"):
        assert f"{settings.STATIC_URL}{asset}" in html
        found = finders.find(asset)
        assert found and Path(str(found)).stat().st_size > 1000, asset
