"""Every named URL, tried by every persona: anonymous, outsider (a user without an Employee
profile), colleague (another employee), sender (who owns the data) and manager.

The table below must name every URL of the project: a new view fails `test_every_url_is_in_the
_matrix` until someone decides who may open it. Expected outcomes:

- LOGIN: redirected to the login page.
- DENY: 403 or 404, and none of the sender's data in the answer.
- HIDDEN: the page answers (200) but shows none of the sender's data (lists, the board).
- OK: the page or action works (2xx or 3xx, not to the login page).
- PUBLIC: no login asked, no server error (signer links, verification, webhooks).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests import factories
from tests.api.matrix import API_ROUTES, check_api_route
from tests.security.conftest import (
    COUNTERPARTY_NAME,
    DEAL_TITLE,
    DOCUMENT_TITLE,
    LAYOUT_NAME,
    TEMPLATE_NAME,
    World,
    blank_pdf,
    build_world,
    logged_in_clients,
)

LOGIN, DENY, HIDDEN, OK, PUBLIC = "login", "deny", "hidden", "ok", "public"
PERSONAS = ("anonymous", "outsider", "colleague", "sender", "manager")

# Namespaces left to their own access rules: Django's admin (staff only, own login page) and
# django-anymail's provider webhooks (checked once below, they share one view class).
OWN_RULES = {"admin", "anymail"}


@dataclass
class Route:
    name: str
    method: str = "get"
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World], dict[str, Any]] = lambda w: {}
    expect: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


# The sender owns the data; colleagues and outsiders must not reach it.
OWNED = {"anonymous": LOGIN, "outsider": DENY, "colleague": DENY, "sender": OK, "manager": OK}
# Lists and the board: every employee has one, showing only what they may see.
LISTED = {"anonymous": LOGIN, "outsider": HIDDEN, "colleague": HIDDEN, "sender": OK, "manager": OK}
# Any employee (counterparties and contacts are shared, templates and layouts are per person).
EMPLOYEES = {"anonymous": LOGIN, "outsider": DENY, "colleague": OK, "sender": OK, "manager": OK}
MANAGERS = {"anonymous": LOGIN, "outsider": DENY, "colleague": DENY, "sender": DENY, "manager": OK}
EVERYONE = dict.fromkeys(PERSONAS, PUBLIC)


def deal(w: World) -> dict[str, Any]:
    return {"deal_id": w.deal.pk}


def invoice(w: World) -> dict[str, Any]:
    return {"invoice_id": w.invoice.pk}


def envelope(w: World) -> dict[str, Any]:
    return {"envelope_id": w.envelope.pk}


def document(w: World) -> dict[str, Any]:
    return {"document_id": w.document.pk}


def draft(w: World) -> dict[str, Any]:
    return {"document_id": w.draft_document.pk}


def draft_field(w: World) -> dict[str, Any]:
    return {"document_id": w.draft_document.pk, "field_id": w.draft_document.fields.first().pk}


def template(w: World) -> dict[str, Any]:
    return {"template_id": w.template.pk}


def token(w: World) -> dict[str, Any]:
    return {"token": w.token}


def webhook_endpoint(w: World) -> dict[str, Any]:
    from webhooks.models import Endpoint

    endpoint = Endpoint.objects.first() or Endpoint.objects.create(
        url="https://hooks.example.com/in", events=["envelope.sent"]
    )
    return {"endpoint_id": endpoint.pk}


def bulk_batch(w: World) -> dict[str, Any]:
    """A bulk send of the sender's, titled like their document (a leak shows)."""
    from bulk.models import Batch, BulkRow

    batch = Batch.objects.filter(title=DOCUMENT_TITLE).first()
    if batch is None:
        batch = Batch.objects.create(
            title=DOCUMENT_TITLE,
            source=Batch.Source.DOCUMENT,
            document=w.draft_document,
            created_by=w.draft_document.created_by,
            file_name="recipients.csv",
            file_sha256="0" * 64,
            header=["name", "email"],
            mapping={"0": "client.name", "1": "client.email"},
            fields=[{"key": "signature-client-1", "kind": "signature", "role": "client"}],
        )
        BulkRow.objects.create(batch=batch, line=2, cells=[DEAL_TITLE, "x@example.com"])
    return {"batch_id": batch.pk}


def bulk_file(w: World) -> dict[str, Any]:
    return {
        "source": f"d:{w.draft_document.pk}",
        "file": SimpleUploadedFile("r.csv", b"name,email\nA,a@example.com\n", "text/csv"),
    }


def bulk_mapping(w: World) -> dict[str, Any]:
    return {
        "col-0": "client.name",
        "col-1": "client.email",
        "language": "fr",
        "deadline_days": "30",
        "reminder_every_days": "3",
        "reminder_max": "3",
    }


def webhook_delivery(w: World) -> dict[str, Any]:
    from webhooks.models import WebhookDelivery

    endpoint_id = webhook_endpoint(w)["endpoint_id"]
    delivery = WebhookDelivery.objects.filter(endpoint_id=endpoint_id).first()
    if delivery is None:
        delivery = WebhookDelivery.objects.create(
            endpoint_id=endpoint_id,
            message_id="msg_matrix",
            event_type="envelope.sent",
            payload="{}",
            status=WebhookDelivery.Status.FAILED,
        )
    return {"endpoint_id": endpoint_id, "delivery_id": delivery.pk}


def field_form(w: World) -> dict[str, Any]:
    return {
        "kind": "text",
        "role": "client",
        "page": "1",
        "x": "50",
        "y": "50",
        "width": "120",
        "height": "30",
        "label": "x",
    }


def pdf_file(w: World) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("copy.pdf", blank_pdf(), content_type="application/pdf")}


def own_company(w: World) -> dict[str, Any]:
    return {"company_id": w.company.pk}


def _stamp_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (120, 120), "white")
    ImageDraw.Draw(image).ellipse((10, 10, 110, 110), outline=(30, 60, 200), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def stamp_file(w: World) -> dict[str, Any]:
    return {"stamp": SimpleUploadedFile("stamp.png", _stamp_png(), content_type="image/png")}


def stamped_company(w: World) -> dict[str, Any]:
    from signing.stamps import company_stamp_set

    if not w.company.default_stamp:
        company_stamp_set(company=w.company, data=_stamp_png())
    return own_company(w)


def template_form(w: World) -> dict[str, Any]:
    return {"name": "Renamed", "kind": "other", "language": "en", "body": "<p>x</p>", "css": ""}


ROUTES = [
    # signflow
    Route("home", expect={**EVERYONE, "anonymous": LOGIN}),
    Route("favicon", expect=EVERYONE),
    Route("healthz", expect=EVERYONE),
    Route("readyz", expect=EVERYONE),
    # Off (404) unless SIGNFLOW_METRICS_ALLOWED_IPS or _TOKEN is set (tests/ops/test_metrics.py):
    # no login is asked of the scraper, and no user, manager included, gets the metrics.
    Route("metrics", expect={**dict.fromkeys(PERSONAS, DENY), "anonymous": PUBLIC}),
    Route("set_language", "post", data=lambda w: {"language": "en"}, expect=EVERYONE),
    Route("login", expect=EVERYONE),
    Route("logout", "post", expect=dict.fromkeys(PERSONAS, LOGIN)),  # logged out, back to login
    # The code step of a login: without a password just given, back to the login page.
    Route("login_code", expect=dict.fromkeys(PERSONAS, LOGIN)),
    Route(
        "login_code",
        "post",
        data=lambda w: {"code": "123456"},
        expect=dict.fromkeys(PERSONAS, LOGIN),
    ),
    # Two-step login settings: every logged-in user, for their own account only.
    Route("two_factor", expect={**EVERYONE, "anonymous": LOGIN}),
    Route(
        "two_factor",
        "post",
        data=lambda w: {"code": "123456"},
        expect={**EVERYONE, "anonymous": LOGIN},
    ),
    # crm: deals and invoices belong to their responsible employee
    Route("crm:deal_list", expect=LISTED),
    Route("crm:deal_create", expect=EMPLOYEES),
    Route("crm:deal_detail", kwargs=deal, expect=OWNED),
    Route("crm:deal_edit", kwargs=deal, expect=OWNED),
    Route("crm:deal_edit", "post", kwargs=deal, expect=OWNED),
    Route("crm:deal_note", "post", kwargs=deal, data=lambda w: {"text": "x"}, expect=OWNED),
    Route("crm:invoice_create", kwargs=deal, expect=OWNED),
    Route("crm:invoice_list", expect=LISTED),
    Route("crm:invoice_detail", kwargs=invoice, expect=OWNED),
    Route("crm:invoice_edit", kwargs=invoice, expect=OWNED),
    Route("crm:invoice_status", "post", kwargs=invoice, expect=OWNED),
    Route("crm:invoice_print", kwargs=invoice, expect=OWNED),
    Route("crm:counterparty_list", expect={**EMPLOYEES, "outsider": HIDDEN}),
    Route("crm:counterparty_create", expect=EMPLOYEES),
    Route(
        "crm:counterparty_detail",
        kwargs=lambda w: {"counterparty_id": w.counterparty.pk},
        expect=EMPLOYEES,
    ),
    Route(
        "crm:counterparty_edit",
        kwargs=lambda w: {"counterparty_id": w.counterparty.pk},
        expect=EMPLOYEES,
    ),
    Route(
        "crm:contact_create",
        kwargs=lambda w: {"counterparty_id": w.counterparty.pk},
        expect=EMPLOYEES,
    ),
    Route("crm:contact_edit", kwargs=lambda w: {"contact_id": w.contact.pk}, expect=EMPLOYEES),
    Route("crm:company_list", expect=MANAGERS),
    Route("crm:company_create", expect=MANAGERS),
    Route("crm:company_edit", kwargs=lambda w: {"company_id": w.company.pk}, expect=MANAGERS),
    Route(
        "crm:company_default",
        "post",
        kwargs=lambda w: {"company_id": w.company.pk},
        expect=MANAGERS,
    ),
    Route("crm:stage_list", expect=MANAGERS),
    Route("crm:stage_list", "post", expect=MANAGERS),
    # documents: a document belongs to its creator
    Route("documents:upload", expect=EMPLOYEES),
    Route("documents:upload", "post", expect=EMPLOYEES),
    Route("documents:page_image", kwargs=lambda w: {**document(w), "page": 1}, expect=OWNED),
    Route("documents:edit_fields", kwargs=draft, expect=OWNED),
    Route("documents:field_add", "post", kwargs=draft, data=field_form, expect=OWNED),
    Route("documents:field_change", "post", kwargs=draft_field, data=field_form, expect=OWNED),
    Route("documents:field_remove", "post", kwargs=draft_field, expect=OWNED),
    Route("documents:previews_status", kwargs=draft, expect=OWNED),
    Route("documents:previews_retry", "post", kwargs=draft, expect=OWNED),
    Route(
        "documents:layout_save", "post", kwargs=draft, data=lambda w: {"name": "L"}, expect=OWNED
    ),
    Route(
        "documents:layout_apply",
        "post",
        kwargs=draft,
        data=lambda w: {"layout": w.layout.pk},
        expect={**OWNED, "manager": DENY},  # a layout is personal
    ),
    Route("documents:layout_list", expect={**EMPLOYEES, "colleague": HIDDEN}),
    Route(
        "documents:layout_remove",
        "post",
        kwargs=lambda w: {"layout_id": w.layout.pk},
        expect={**OWNED, "manager": DENY},  # a layout is personal
    ),
    Route("documents:template_list", expect={**EMPLOYEES, "colleague": HIDDEN}),
    Route("documents:template_new", expect=EMPLOYEES),
    Route(
        "documents:template_preview", "post", data=lambda w: {"body": "<p>x</p>"}, expect=EMPLOYEES
    ),
    Route(
        "documents:template_preview",
        "post",
        data=lambda w: {"template": w.template.pk, "body": "<p>x</p>"},
        expect=OWNED,
    ),
    Route("documents:template_edit", kwargs=template, expect=OWNED),
    Route("documents:template_edit", "post", kwargs=template, data=template_form, expect=OWNED),
    Route("documents:template_duplicate", "post", kwargs=template, expect=OWNED),
    # Company defaults are a manager's call, even for the template's own author.
    Route("documents:template_default", "post", kwargs=template, expect=MANAGERS),
    Route("documents:template_remove", "post", kwargs=template, expect=OWNED),
    # verification: public by design
    Route("verification:verify", expect=EVERYONE),
    Route("verification:root_certificate", expect=EVERYONE),
    Route("verification:crl", expect=EVERYONE),
    Route("verification:by_code", kwargs=lambda w: {"code": "SECTESTCODE1"}, expect=EVERYONE),
    Route("verification:api_verify", "post", expect=EVERYONE),
    Route("verification:api_by_code", kwargs=lambda w: {"code": "SECTESTCODE1"}, expect=EVERYONE),
    # signing: the board and the list show each employee their own envelopes
    Route("signing:board", expect=LISTED),
    Route("signing:board_changes", expect=LISTED),
    Route("signing:board_column", kwargs=lambda w: {"key": "awaiting_company"}, expect=LISTED),
    Route("signing:envelope_list", expect=LISTED),
    Route("signing:envelope_export", expect=LISTED),
    Route("signing:card", kwargs=envelope, expect=OWNED, headers={"HTTP_HX_REQUEST": "true"}),
    Route("signing:card_remind", "post", kwargs=envelope, expect=OWNED),
    Route(
        "signing:card_cancel", "post", kwargs=envelope, data=lambda w: {"reason": "x"}, expect=OWNED
    ),
    Route("signing:card_link", kwargs=envelope, expect=OWNED),
    Route(
        "signing:card_retry",
        "post",
        kwargs=lambda w: {**envelope(w), "message_id": w.message.pk},
        expect=OWNED,
    ),
    Route("signing:team", expect=MANAGERS),
    Route("signing:team_roles", expect=MANAGERS),
    Route(
        "signing:team_roles",
        "post",
        data=lambda w: {"employee": w.deal.responsible.employee.pk, "role": "employee"},
        expect=MANAGERS,
    ),
    Route("signing:envelope_detail", kwargs=envelope, expect=OWNED),
    Route("signing:envelope_download", kwargs=envelope, expect=OWNED),
    # The full comparison with the sealed file: whoever may view the envelope.
    Route("signing:envelope_compare", kwargs=envelope, expect=OWNED),
    Route("signing:envelope_compare", "post", kwargs=envelope, data=pdf_file, expect=OWNED),
    Route("signing:envelope_remind", "post", kwargs=envelope, expect=OWNED),
    # Correct before the first signature (an empty form: the owner gets a message back).
    Route("signing:envelope_correct", "post", kwargs=envelope, expect=OWNED),
    Route("signing:envelope_correct_fields", "post", kwargs=envelope, expect=OWNED),
    # Retry a failed seal: the responsible employee or a manager (the envelope here is not in
    # `sealing_failed`: the owner gets a message and the page back, others nothing).
    Route("signing:envelope_retry_sealing", "post", kwargs=envelope, expect=OWNED),
    Route(
        "signing:envelope_cancel",
        "post",
        kwargs=envelope,
        data=lambda w: {"reason": "x"},
        expect=OWNED,
    ),
    # Start over: discard a draft, or cancel and prepare a new version (envelope here is sent:
    # the owner gets a message and the page back, others nothing).
    Route("signing:envelope_discard", "post", kwargs=envelope, expect=OWNED),
    Route(
        "signing:envelope_replace",
        "post",
        kwargs=envelope,
        data=lambda w: {"reason": "x"},
        expect=OWNED,
    ),
    Route(
        "signing:party_reissue",
        "post",
        kwargs=lambda w: {**envelope(w), "party_id": w.party.pk},
        data=lambda w: {"email": "new@example.com", "phone": "", "channel": "email"},
        expect=OWNED,
    ),
    Route(
        "signing:message_retry",
        "post",
        kwargs=lambda w: {**envelope(w), "message_id": w.message.pk},
        expect=OWNED,
    ),
    Route("signing:send_invoice", "post", kwargs=invoice, expect=OWNED),
    Route("signing:send_deal", "post", kwargs=deal, expect=OWNED),
    Route(
        "signing:send_deal",
        "post",
        kwargs=deal,
        data=lambda w: {"template": w.template.pk},
        expect=OWNED,
    ),
    Route("signing:send", kwargs=document, expect=OWNED),
    Route(
        "signing:send_language",
        "post",
        kwargs=document,
        data=lambda w: {"language": "en"},
        expect=OWNED,
    ),
    Route("signing:send", kwargs=draft, expect={**OWNED, "manager": DENY}),
    # Development only: 404 unless SIGNFLOW_DEV_OUTBOX (tests/security/test_headers.py).
    Route("signing:dev_outbox", expect=EVERYONE),
    Route("signing:twilio_status", "post", expect=EVERYONE),
    # the signer's side: the link is the credential, whoever holds it
    Route("signing:sign", kwargs=token, expect=EVERYONE),
    Route("signing:code_send", "post", kwargs=token, expect=EVERYONE),
    Route("signing:code_confirm", "post", kwargs=token, expect=EVERYONE),
    Route("signing:sign_submit", "post", kwargs=token, expect=EVERYONE),
    Route("signing:decline", "post", kwargs=token, expect=EVERYONE),
    Route("signing:page_image", kwargs=lambda w: {**token(w), "page": 1}, expect=EVERYONE),
    Route("signing:download", kwargs=token, expect=EVERYONE),
    # the copy before signing: also needs the code confirmed in this browser (else back to the page)
    Route("signing:copy_download", "post", kwargs=token, expect=EVERYONE),
    Route("signing:signer_compare", kwargs=token, expect=EVERYONE),
    Route("signing:signer_compare", "post", kwargs=token, data=pdf_file, expect=EVERYONE),
    Route("signing:default_stamp", kwargs=token, expect=EVERYONE),
    # Our companies' stamps and the client-stamp setting: managers only.
    Route("signing:company_stamp", kwargs=own_company, expect=MANAGERS),
    Route("signing:company_stamp", "post", kwargs=own_company, data=stamp_file, expect=MANAGERS),
    Route("signing:company_stamp_image", kwargs=stamped_company, expect=MANAGERS),
    Route("signing:company_stamp_remove", "post", kwargs=own_company, expect=MANAGERS),
    Route(
        "signing:company_client_stamp",
        "post",
        kwargs=own_company,
        data=lambda w: {"ask_client_stamp": "1"},
        expect=MANAGERS,
    ),
    # outgoing webhooks: the organisation's endpoints and their secrets, managers only
    Route("webhooks:endpoint_list", expect=MANAGERS),
    Route("webhooks:endpoint_create", expect=MANAGERS),
    Route(
        "webhooks:endpoint_create",
        "post",
        data=lambda w: {"url": "https://hooks.example.com/in", "events": ["envelope.sent"]},
        expect=MANAGERS,
    ),
    Route("webhooks:endpoint_detail", kwargs=webhook_endpoint, expect=MANAGERS),
    Route("webhooks:endpoint_edit", kwargs=webhook_endpoint, expect=MANAGERS),
    Route(
        "webhooks:endpoint_edit",
        "post",
        kwargs=webhook_endpoint,
        data=lambda w: {"url": "https://hooks.example.com/in", "events": ["envelope.sent"]},
        expect=MANAGERS,
    ),
    Route("webhooks:endpoint_rotate", "post", kwargs=webhook_endpoint, expect=MANAGERS),
    Route(
        "webhooks:endpoint_active",
        "post",
        kwargs=webhook_endpoint,
        data=lambda w: {"active": "0"},
        expect=MANAGERS,
    ),
    Route("webhooks:endpoint_delete", "post", kwargs=webhook_endpoint, expect=MANAGERS),
    Route("webhooks:endpoint_test", "post", kwargs=webhook_endpoint, expect=MANAGERS),
    Route("webhooks:delivery_detail", kwargs=webhook_delivery, expect=MANAGERS),
    Route("webhooks:delivery_redeliver", "post", kwargs=webhook_delivery, expect=MANAGERS),
    # bulk send: a batch belongs to the employee who uploaded it (and managers)
    Route("bulk:batch_list", expect={**LISTED, "outsider": DENY}),
    Route("bulk:batch_new", expect=EMPLOYEES),
    # From the sender's document: a manager may use it too, a colleague may not.
    Route("bulk:batch_new", "post", data=bulk_file, expect=OWNED),
    Route("bulk:batch_detail", kwargs=bulk_batch, expect=OWNED),
    Route("bulk:batch_detail", "post", kwargs=bulk_batch, data=bulk_mapping, expect=OWNED),
    Route("bulk:batch_send", "post", kwargs=bulk_batch, expect=OWNED),
    Route("bulk:batch_progress", kwargs=bulk_batch, expect=OWNED),
    Route("bulk:batch_failed_csv", kwargs=bulk_batch, expect=OWNED),
    Route(
        "bulk:batch_cancel", "post", kwargs=bulk_batch, data=lambda w: {"reason": "x"}, expect=OWNED
    ),
    Route("bulk:batch_remind", "post", kwargs=bulk_batch, expect=OWNED),
]


# The REST API and its keys pages (tests/api/matrix.py): API rows are tried with a key.
ROUTES += API_ROUTES  # type: ignore[arg-type]


def _named_urls() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, namespace: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace or ""
                if inner in OWN_RULES:
                    continue
                walk(pattern, f"{namespace}{inner}:" if inner else namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}{pattern.name}")

    walk(get_resolver(), "")
    return names


def test_every_url_is_in_the_matrix() -> None:
    missing = _named_urls() - {route.name for route in ROUTES}
    assert not missing, f"add these URLs to ROUTES with who may open them: {sorted(missing)}"


def test_the_matrix_names_no_url_that_is_gone() -> None:
    gone = {route.name for route in ROUTES} - _named_urls()
    assert not gone, gone


LEAKS = {
    "outsider": (DEAL_TITLE, DOCUMENT_TITLE, TEMPLATE_NAME, LAYOUT_NAME, COUNTERPARTY_NAME),
    "colleague": (DEAL_TITLE, DOCUMENT_TITLE, TEMPLATE_NAME, LAYOUT_NAME),
    "sender": (),
    "manager": (),
}


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _case_id(route: Route, persona: str) -> str:
    return f"{route.method}-{route.name}-{persona}"


CASES = [
    pytest.param(route, persona, id=_case_id(route, persona))
    for route in ROUTES
    for persona in PERSONAS
]


@dataclass
class SharedWorld:
    world: World
    users: dict[str, User]
    media: Path


@pytest.fixture(scope="module")
def shared_world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedWorld]:
    """The world is built once for the 800-odd cases (it was most of their time), in a
    transaction this module's tests run inside (each test's own transaction is a savepoint in
    it, rolled back after the test, as before) and rolled back after the last one."""
    media = tmp_path_factory.mktemp("matrix-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media)):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            company = factories.make_company()
            users = {
                "outsider": factories.make_user("eve.outsider", company=None),
                "colleague": factories.make_user("lucas.petit", company=company),
                "sender": factories.make_user("sophie.bernard", company=company),
                "manager": factories.make_user("marc.lefevre", company=company, role="manager"),
            }
            yield SharedWorld(build_world(company, users["sender"]), users, media)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def media_root(settings: Any, shared_world: SharedWorld) -> Path:
    # The world's files stay where it was built.
    settings.MEDIA_ROOT = str(shared_world.media)
    return shared_world.media


@pytest.fixture
def world(db: None, shared_world: SharedWorld) -> World:
    return shared_world.world


@pytest.fixture
def clients(db: None, shared_world: SharedWorld) -> dict[str, Client]:
    return logged_in_clients(shared_world.users)


@pytest.mark.parametrize(("route", "persona"), CASES)
def test_access(route: Route, persona: str, world: World, clients: dict[str, Client]) -> None:
    if getattr(route, "api", False):
        check_api_route(route, persona, world, clients, LEAKS.get(persona, ()))  # type: ignore[arg-type]
        return
    client = clients[persona]
    url = reverse(route.name, kwargs=route.kwargs(world))
    send = getattr(client, route.method)
    response = send(url, route.data(world), **route.headers)
    expected = route.expect[persona]
    location = response.get("Location", "")
    to_login = response.status_code == 302 and location.startswith(reverse("login"))
    body = _body(response)
    if expected == LOGIN:
        assert to_login, (response.status_code, location)
        return
    assert not to_login, (response.status_code, location)
    assert response.status_code < 500, body[:2000]
    if expected == DENY:
        assert response.status_code in (403, 404), (response.status_code, location, body[:500])
    elif expected == OK:
        assert response.status_code < 400, (response.status_code, location, body[:1000])
    elif expected == HIDDEN:
        assert response.status_code in (200, 204, 403, 404), response.status_code
    if expected not in (DENY, HIDDEN):
        return  # a public page shows what its code or link entitles anyone to see
    for secret in LEAKS[persona]:
        assert secret not in body, f"{persona} sees {secret!r} on {url}"
