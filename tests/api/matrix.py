"""The API's rows of the access matrix (tests/security/test_access_matrix.py): every /api/v1/
URL and the API keys pages, tried by every persona, each holding a key with every scope (the
anonymous persona has none; the outsider's key outlived its Employee profile).

Outcomes as in the matrix; for the API, LOGIN means 401 (no valid key), DENY 403 or 404, and
CONFLICT 409: the owner reaches the rule (an envelope already sent) and the service says no.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from api.models import ApiKey

LOGIN, DENY, HIDDEN, OK, PUBLIC, CONFLICT = "login", "deny", "hidden", "ok", "public", "conflict"
PERSONAS = ("anonymous", "outsider", "colleague", "sender", "manager")
OWNED = {"anonymous": LOGIN, "outsider": DENY, "colleague": DENY, "sender": OK, "manager": OK}
LISTED = {"anonymous": LOGIN, "outsider": HIDDEN, "colleague": HIDDEN, "sender": OK, "manager": OK}
EMPLOYEES = {"anonymous": LOGIN, "outsider": DENY, "colleague": OK, "sender": OK, "manager": OK}
EVERYONE = dict.fromkeys(PERSONAS, PUBLIC)


@dataclass
class ApiRoute:
    name: str
    method: str = "get"
    kwargs: Callable[[Any], dict[str, Any]] = lambda w: {}
    data: Callable[[Any], Any] = lambda w: {}
    expect: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    multipart: bool = False
    api: bool = True


def _envelope(w: Any) -> dict[str, Any]:
    return {"envelope_id": w.envelope.pk}


def _pdf(w: Any) -> dict[str, Any]:
    from tests.security.conftest import blank_pdf

    return {
        "file": SimpleUploadedFile("c.pdf", blank_pdf(), content_type="application/pdf"),
        "title": "Contrat",
    }


def _parties(w: Any) -> dict[str, Any]:
    return {
        "document_id": w.draft_document.pk,
        "parties": [
            {"role": "company", "name": "Claire Dubois", "email": "claire@example.com"},
            {"role": "client", "name": "Paul Martin", "email": "paul@example.com"},
        ],
    }


def _own_key(w: Any) -> dict[str, Any]:
    key = ApiKey.objects.create(
        owner=w.deal.responsible,
        name="matrix",
        prefix="matrix01",
        key_hash="0" * 64,
        scopes=["read"],
    )
    return {"key_id": key.pk}


def _invoice(w: Any) -> dict[str, Any]:
    return {
        "deal_id": w.deal.pk,
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "lines": [{"description": "x", "quantity": "1", "unit_price": "10", "vat_rate": "20"}],
    }


API_ROUTES = [
    # The keys page: every employee, for their own keys only.
    ApiRoute("api:keys", expect=EMPLOYEES, api=False),
    ApiRoute(
        "api:keys",
        "post",
        data=lambda w: {"name": "k", "scopes": ["read"]},
        expect=EMPLOYEES,
        api=False,
    ),
    ApiRoute(
        "api:key_revoke", "post", kwargs=_own_key, expect={**OWNED, "manager": DENY}, api=False
    ),
    # The OpenAPI document and its interactive page: public, like any API reference.
    ApiRoute("api_v1:openapi-json", expect=EVERYONE),
    ApiRoute("api_v1:openapi-view", expect=EVERYONE),
    ApiRoute("api_v1:api-root", expect=dict.fromkeys(PERSONAS, DENY)),  # ninja's: 404
    # CRM: counterparties and contacts are every employee's; deals and invoices their owner's.
    ApiRoute("api_v1:counterparty_list", expect=EMPLOYEES),
    ApiRoute(
        "api_v1:counterparty_create", "post", data=lambda w: {"legal_name": "X"}, expect=EMPLOYEES
    ),
    ApiRoute(
        "api_v1:counterparty_update",
        "patch",
        kwargs=lambda w: {"counterparty_id": w.counterparty.pk},
        data=lambda w: {"rcs_city": "Lyon"},
        expect=EMPLOYEES,
    ),
    ApiRoute(
        "api_v1:contact_list",
        kwargs=lambda w: {"counterparty_id": w.counterparty.pk},
        expect=EMPLOYEES,
    ),
    ApiRoute(
        "api_v1:contact_create",
        "post",
        kwargs=lambda w: {"counterparty_id": w.counterparty.pk},
        data=lambda w: {"name": "Anne"},
        expect=EMPLOYEES,
    ),
    ApiRoute(
        "api_v1:contact_update",
        "patch",
        kwargs=lambda w: {"contact_id": w.contact.pk},
        data=lambda w: {"position": "CEO"},
        expect=EMPLOYEES,
    ),
    ApiRoute("api_v1:deal_list", expect=LISTED),
    ApiRoute(
        "api_v1:deal_create",
        "post",
        data=lambda w: {"title": "New", "counterparty_id": w.counterparty.pk},
        expect=EMPLOYEES,
    ),
    ApiRoute("api_v1:invoice_list", expect=LISTED),
    ApiRoute("api_v1:invoice_create", "post", data=_invoice, expect=OWNED),
    # Documents: templates and documents are their creator's (built-in templates everyone's).
    ApiRoute("api_v1:template_list", expect={**LISTED, "outsider": HIDDEN}),
    ApiRoute(
        "api_v1:template_create",
        "post",
        data=lambda w: {"name": "T", "language": "en", "body": "<p>x</p>"},
        expect=EMPLOYEES,
    ),
    ApiRoute(
        "api_v1:template_update",
        "patch",
        kwargs=lambda w: {"template_id": w.template.pk},
        data=lambda w: {"name": "Renamed"},
        expect=OWNED,
    ),
    ApiRoute("api_v1:document_upload", "post", data=_pdf, multipart=True, expect=EMPLOYEES),
    ApiRoute(
        "api_v1:document_from_template",
        "post",
        data=lambda w: {"template_id": w.template.pk, "deal_id": w.deal.pk},
        expect=OWNED,
    ),
    ApiRoute(
        "api_v1:document_detail", kwargs=lambda w: {"document_id": w.document.pk}, expect=OWNED
    ),
    # Envelopes: their responsible employee and managers; a draft's document its creator's
    # (as the send page: a manager cannot start an envelope on someone else's upload).
    ApiRoute("api_v1:envelope_create", "post", data=_parties, expect={**OWNED, "manager": DENY}),
    ApiRoute(
        "api_v1:envelope_send",
        "post",
        kwargs=_envelope,
        expect={**OWNED, "sender": CONFLICT, "manager": CONFLICT},
    ),
    ApiRoute("api_v1:envelope_list", expect=LISTED),
    ApiRoute("api_v1:envelope_detail", kwargs=_envelope, expect=OWNED),
    ApiRoute("api_v1:envelope_remind", "post", kwargs=_envelope, expect=OWNED),
    ApiRoute(
        "api_v1:envelope_cancel",
        "post",
        kwargs=_envelope,
        data=lambda w: {"reason": "x"},
        expect=OWNED,
    ),
    ApiRoute(
        "api_v1:party_correct",
        "post",
        kwargs=lambda w: {"envelope_id": w.envelope.pk, "party_id": w.party.pk},
        data=lambda w: {"email": "new@example.com", "channel": "email"},
        expect=OWNED,
    ),
    ApiRoute("api_v1:envelope_sealed_pdf", kwargs=_envelope, expect=OWNED),
    # The world's sealed file is four bytes, not a PDF: no certificate pages to extract.
    ApiRoute(
        "api_v1:envelope_certificate",
        kwargs=_envelope,
        expect={**OWNED, "sender": CONFLICT, "manager": CONFLICT},
    ),
]


def _token_for(user: User, persona: str) -> str:
    # Made directly: the outsider has no Employee profile (any more), so key_create refuses.
    token = f"sf_{persona[:8]}_matrix-secret-{persona}"
    ApiKey.objects.create(
        owner=user,
        name=persona,
        prefix=persona[:8],
        key_hash=hashlib.sha256(token.encode()).hexdigest(),
        scopes=["read", "send", "templates"],
    )
    return token


def check_api_route(
    route: ApiRoute, persona: str, world: Any, clients: dict[str, Client], leaks: tuple[str, ...]
) -> None:
    """One row of the matrix for one persona, through an API key."""
    url = reverse(route.name, kwargs=route.kwargs(world))
    client = Client()
    headers: dict[str, str] = {}
    if persona != "anonymous":
        user = clients[persona].session.get("_auth_user_id")
        headers["HTTP_AUTHORIZATION"] = "Bearer " + _token_for(User.objects.get(pk=user), persona)
    send = getattr(client, route.method)
    if route.multipart or route.method == "get":
        response = send(url, route.data(world), **headers)
    else:
        response = send(
            url, json.dumps(route.data(world)), content_type="application/json", **headers
        )
    expected = route.expect[persona]
    body = response.content.decode("utf-8", "replace")
    assert response.status_code < 500, body[:2000]
    if expected == LOGIN:
        assert response.status_code == 401, (response.status_code, body[:500])
        assert response.json()["error"]["code"] == "unauthenticated"
        return
    if expected == DENY:
        assert response.status_code in (403, 404), (response.status_code, body[:500])
    elif expected == CONFLICT:
        assert response.status_code == 409, (response.status_code, body[:500])
    elif expected in (OK, PUBLIC):
        assert response.status_code < 400, (response.status_code, body[:1000])
    elif expected == HIDDEN:
        assert response.status_code in (200, 403, 404), response.status_code
    if expected in (DENY, HIDDEN):
        for secret in leaks:
            assert secret not in body, f"{persona} sees {secret!r} on {url}"
