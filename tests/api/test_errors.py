"""Errors: one shape, stable codes, the field named, French or English, and never a 500 for
bad input (hypothesis over every input schema: bodies, query strings, uploads)."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import OwnCompany
from tests import factories
from tests.api.conftest import Api, api_for
from tests.security.conftest import blank_pdf

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()[:2000]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["code"], str) and error["message"]
    return error


def test_a_validation_error_names_the_field(sender_api: Api) -> None:
    error = _error(
        sender_api.post(
            "/envelopes",
            {"document_id": 1, "parties": [{"role": "client", "name": "x", "channel": "fax"}]},
        ),
        400,
    )
    assert error["code"] == "invalid"
    assert error["fields"] == {"parties.0.channel": ["Choose one of: 'email' or 'sms'."]}


def test_a_missing_field_and_a_wrong_number_are_named(sender_api: Api) -> None:
    error = _error(
        sender_api.post("/invoices", {"deal_id": 1, "issue_date": "2026-02-30", "lines": [{}]}),
        400,
    )
    assert set(error["fields"]) >= {
        "issue_date",
        "due_date",
        "lines.0.description",
        "lines.0.quantity",
    }
    assert error["fields"]["due_date"] == ["This field is required."]


def test_a_page_form_rule_names_its_field(sender_api: Api) -> None:
    error = _error(
        sender_api.post("/counterparties", {"legal_name": "A", "iban": "FR76 0000", "siren": "1"}),
        400,
    )
    assert set(error["fields"]) == {"iban", "siren"}


def test_the_send_rules_name_the_party_field(sender_api: Api, sender: User) -> None:
    from documents.services import document_create_from_upload

    document = document_create_from_upload(
        uploaded_file=SimpleUploadedFile("c.pdf", blank_pdf(), "application/pdf"),
        title="Contrat",
        creator=sender,
        language="en",
    )
    body = {
        "document_id": document.pk,
        "parties": [
            {"role": "company", "name": "Claire", "email": "not-an-email"},
            {"role": "client", "name": "Paul", "channel": "sms", "phone": "01 23 45 67 89"},
        ],
    }
    error = _error(sender_api.post("/envelopes", body), 400)
    assert set(error["fields"]) == {"parties.0.email", "parties.1.phone"}
    assert "mobile" in error["fields"]["parties.1.phone"][0]


def test_messages_follow_accept_language(sender: User) -> None:
    api = api_for(sender)
    response = api.client.post(
        "/api/v1/counterparties",
        json.dumps({"legal_name": "A", "siren": "1"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    error = _error(response, 400)
    assert error["message"] == "Des informations manquent ou sont erronées."


def test_malformed_json_is_a_400(sender_api: Api) -> None:
    response = sender_api.client.post(
        "/api/v1/counterparties",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {sender_api.token}",
    )
    assert _error(response, 400)["code"] == "invalid"


def test_a_service_error_keeps_its_code(sender_api: Api, sender: User) -> None:
    response = sender_api.upload(
        "/documents",
        {"file": SimpleUploadedFile("x.pdf", b"not a pdf", "application/pdf"), "title": "X"},
    )
    error = _error(response, 400)
    assert error["code"] == "document_invalid"


def test_unknown_objects_are_404_with_the_shape(sender_api: Api) -> None:
    assert _error(sender_api.get("/envelopes/999999"), 404)["code"] == "not_found"
    assert _error(sender_api.get(f"/documents/{2**63 - 1}"), 404)["code"] == "not_found"


def test_a_bad_cursor_or_status_names_the_parameter(sender_api: Api) -> None:
    assert "cursor" in _error(sender_api.get("/envelopes", {"cursor": "!!"}), 400)["fields"]
    assert "status" in _error(sender_api.get("/envelopes", {"status": "nope"}), 400)["fields"]
    assert "limit" in _error(sender_api.get("/deals", {"limit": "1000"}), 400)["fields"]


# --- Never a 500 -----------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
        st.sampled_from(["", "\x00", "2026-12-01", "2026-02-30", "1e999", "NaN", "-1", "fr"]),
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _mutations(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid body with some fields replaced by anything, some removed; or any JSON at all."""
    fields = st.fixed_dictionaries(
        {
            name: st.one_of(st.just(value), json_values, st.just(...))
            for name, value in valid.items()
        }
    ).map(lambda body: {k: v for k, v in body.items() if v is not ...})
    return st.one_of(fields, json_values)


@pytest.fixture
def world(company: OwnCompany, sender: User) -> dict[str, Any]:
    from documents.services import document_create_from_upload

    deal = factories.make_deal(company=company, responsible=sender)
    document = document_create_from_upload(
        uploaded_file=SimpleUploadedFile("c.pdf", blank_pdf(), "application/pdf"),
        title="Contrat",
        creator=sender,
        language="en",
    )
    return {"deal": deal, "document": document, "api": api_for(sender)}


def _bodies(world: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    deal, document = world["deal"], world["document"]
    party = {"role": "client", "name": "Paul", "email": "p@example.com", "channel": "email"}
    return [
        ("post", "/counterparties", {"legal_name": "A", "siren": "732829320", "kind": "company"}),
        ("patch", f"/counterparties/{deal.counterparty_id}", {"legal_name": "B", "iban": ""}),
        (
            "post",
            f"/counterparties/{deal.counterparty_id}/contacts",
            {"name": "C", "phone": "0612345678"},
        ),
        ("patch", f"/contacts/{deal.contact_id}", {"email": "c@example.com"}),
        (
            "post",
            "/deals",
            {"title": "D", "counterparty_id": deal.counterparty_id, "amount": "10.00"},
        ),
        (
            "post",
            "/invoices",
            {
                "deal_id": deal.pk,
                "issue_date": "2026-11-20",
                "due_date": "2026-12-20",
                "lines": [
                    {"description": "x", "quantity": "1", "unit_price": "2", "vat_rate": "20"}
                ],
            },
        ),
        (
            "post",
            "/envelopes",
            {
                "document_id": document.pk,
                "parties": [party],
                "language": "en",
                "deadline": "2030-01-01T00:00:00Z",
                "reminder_every_days": 3,
                "message": "m",
            },
        ),
        ("post", "/documents/from-template", {"template_id": 999, "deal_id": deal.pk}),
        ("post", "/templates", {"name": "T", "kind": "other", "language": "en", "body": "<p/>"}),
    ]


@PROPERTY
@given(data=st.data())
def test_no_json_body_gets_a_500(world: dict[str, Any], data: st.DataObject) -> None:
    api: Api = world["api"]
    method, path, valid = data.draw(st.sampled_from(_bodies(world)))
    body = data.draw(_mutations(valid))
    with transaction.atomic():
        response = getattr(api, method)(path, body)
        assert response.status_code < 500, response.content[:500]
        if response.status_code >= 400:
            _error(response, response.status_code)
        transaction.set_rollback(True)


queries = st.dictionaries(
    st.sampled_from(
        [
            "status",
            "q",
            "cursor",
            "limit",
            "responsible",
            "company",
            "counterparty",
            "created_from",
            "created_to",
            "amount_min",
            "amount_max",
            "mine",
            "overdue",
            "kind",
            "stage",
            "deal_id",
        ]
    ),
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
        st.sampled_from(["-1", "0", "99999999999999999999999", "1e9", "2026-02-30", "draft,sent"]),
    ),
    max_size=5,
)


@PROPERTY
@given(
    path=st.sampled_from(["/envelopes", "/deals", "/invoices", "/counterparties", "/templates"]),
    query=queries,
)
def test_no_query_string_gets_a_500(
    world: dict[str, Any], path: str, query: dict[str, str]
) -> None:
    response = world["api"].get(path, query)
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        _error(response, response.status_code)


@PROPERTY
@given(
    fields=st.one_of(
        st.none(),
        st.text(max_size=200),
        json_values.map(json.dumps),
        st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["signature", "text", "stamp", "bogus"]),
                    "role": st.sampled_from(["company", "client", "x"]),
                    "page": st.integers(-1, 3),
                    "x": st.floats(-10, 1000, allow_nan=False),
                    "y": st.floats(-10, 1000, allow_nan=False),
                    "width": st.floats(0, 700, allow_nan=False),
                    "height": st.floats(0, 900, allow_nan=False),
                }
            ),
            max_size=3,
        ).map(json.dumps),
    ),
    title=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
    language=st.sampled_from(["fr", "en", "de", ""]),
)
def test_no_upload_gets_a_500(
    world: dict[str, Any], fields: str | None, title: str, language: str
) -> None:
    data: dict[str, Any] = {
        "file": SimpleUploadedFile("c.pdf", blank_pdf(), "application/pdf"),
        "title": title,
        "language": language,
    }
    if fields is not None:
        data["fields"] = fields
    with transaction.atomic():
        response = world["api"].upload("/documents", data)
        assert response.status_code < 500, response.content[:500]
        if response.status_code >= 400:
            _error(response, response.status_code)
        transaction.set_rollback(True)
