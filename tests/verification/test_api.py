"""The JSON API: a stable schema, clear error codes, a per-IP rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.verification import pdfs
from verification.models import SealedDocument

TOP_LEVEL_KEYS = {
    "schema",
    "verdict",
    "code",
    "title",
    "sealed_at",
    "timestamp_time",
    "tsa",
    "sha256",
    "original_sha256",
    "parties",
    "seal_certificate_sha256",
    "root_certificate_sha256",
    "file",
    "reasons",
    "changes",
    "message",
    "error",
}


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


def post_file(client: Client, data: bytes, **extra: Any) -> Any:
    return client.post(
        reverse("verification:api_verify"),
        {"file": SimpleUploadedFile("doc.pdf", data, content_type="application/pdf")},
        **extra,
    )


def test_the_api_says_authentic_with_the_documented_schema(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    response = post_file(client, sealed_bytes)
    data = response.json()
    assert response.status_code == 200
    assert set(data) == TOP_LEVEL_KEYS
    assert data["verdict"] == "authentic"
    assert data["code"] == "K7M2P9XQ4TAB"
    assert data["title"] == "Facture F-2026-00001"
    assert data["tsa"] == "SignFlow built-in TSA"
    assert data["error"] is None
    assert data["file"]["sha256"] == sealed.sha256
    assert [p["name"] for p in data["parties"]] == ["Sophie Bernard", "Jean Dupont"]
    assert "ip" not in data["parties"][0]


def test_the_api_lists_text_changes_for_a_tampered_file(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    from tests.verification.test_verify import change_amount

    data = post_file(client, change_amount(sealed_bytes)).json()
    assert set(data) == TOP_LEVEL_KEYS
    assert data["verdict"] == "modified"
    assert {"page": 1, "removed": "10 000,00 €", "added": "1 000,00 €"} in data["changes"]["text"]
    assert data["changes"]["pages"][0]["page"] == 1
    assert "bytes_changed" in [r["code"] for r in data["reasons"]]


def test_the_api_says_unknown_for_an_unrelated_pdf(client: Client, db: None) -> None:
    data = post_file(client, pdfs.invoice_pdf()).json()
    assert set(data) == TOP_LEVEL_KEYS
    assert data["verdict"] == "unknown"
    assert data["code"] is None


def test_the_api_rejects_a_non_pdf_with_an_error_code(client: Client, db: None) -> None:
    response = post_file(client, b"hello")
    assert response.status_code == 400
    data = response.json()
    assert set(data) == TOP_LEVEL_KEYS
    assert data["error"]["code"] == "not_pdf"
    assert data["error"]["message"]


def test_the_api_rejects_a_missing_file(client: Client, db: None) -> None:
    response = client.post(reverse("verification:api_verify"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_file"


def test_the_api_rejects_a_too_large_file(client: Client, db: None, settings: Any) -> None:
    settings.SIGNFLOW_UPLOAD_MAX_BYTES = 1000
    response = post_file(client, b"%PDF-1.7\n" + b"0" * 5000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_the_api_finds_a_document_by_code_without_its_content(
    client: Client, sealed: SealedDocument
) -> None:
    response = client.get(reverse("verification:api_by_code", args=[sealed.code]))
    data = response.json()
    assert response.status_code == 200
    assert data["registered"] is True
    assert data["title"] == "Facture F-2026-00001"
    assert data["sha256"] == sealed.sha256


def test_the_api_answers_404_for_an_unknown_code(client: Client, db: None) -> None:
    response = client.get(reverse("verification:api_by_code", args=["ZZZZZZZZZZZZ"]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_api_is_rate_limited_per_ip(client: Client, db: None, settings: Any) -> None:
    settings.SIGNFLOW_VERIFY_RATE_PER_MINUTE = 3
    url = reverse("verification:api_by_code", args=["ZZZZZZZZZZZZ"])
    statuses = [client.get(url, REMOTE_ADDR="192.0.2.1").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    limited = client.get(url, REMOTE_ADDR="192.0.2.1").json()
    assert limited["error"]["code"] == "rate_limited"
    # Another address is not affected.
    assert client.get(url, REMOTE_ADDR="192.0.2.2").status_code == 404
