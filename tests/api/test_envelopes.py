"""Documents and envelopes through the API: fields given as JSON or found from text tags, the
draft and its plan, send at once, list with filters and cursors, remind, cancel, correct a
contact; and a key sees exactly what its employee sees."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from documents.models import Document
from signing.models import Envelope, Message
from tests.api.conftest import Api
from tests.documents.test_text_tags import pdf_with_tags
from tests.security.conftest import blank_pdf
from tests.signing.conftest import last_message, link_token

pytestmark = pytest.mark.django_db

PARTIES = [
    {"role": "company", "name": "Claire Dubois", "email": "claire@example.com", "is_company": True},
    {"role": "client", "name": "Paul Martin", "email": "paul@example.com"},
]


def _upload(api: Api, pdf: bytes | None = None, **data: str) -> dict:  # type: ignore[type-arg]
    response = api.upload(
        "/documents",
        {
            "file": SimpleUploadedFile("c.pdf", pdf or blank_pdf(), "application/pdf"),
            "title": "Contrat",
            "language": "en",
            **data,
        },
    )
    assert response.status_code == 201, response.content.decode()[:1000]
    return response.json()


def _sent(api: Api, **extra: object) -> dict:  # type: ignore[type-arg]
    document = _upload(api)
    body = {"document_id": document["id"], "parties": PARTIES, "language": "en", "send": True}
    response = api.post("/envelopes", {**body, **extra})
    assert response.status_code == 201, response.content.decode()[:1000]
    return response.json()


def test_fields_given_as_json_replace_the_default_ones(sender_api: Api) -> None:
    fields = (
        '[{"kind": "signature", "role": "client", "page": 1, "x": 300, "y": 60, '
        '"width": 160, "height": 60}, {"kind": "text", "role": "company", "page": 1, '
        '"x": 40, "y": 700, "width": 200, "height": 20, "label": "Ref", "required": false}]'
    )
    document = _upload(sender_api, fields=fields)
    assert [(f["kind"], f["role"], f["x"], f["label"]) for f in document["fields"]] == [
        ("text", "company", 40.0, "Ref"),
        ("signature", "client", 300.0, ""),
    ]


def test_a_field_off_the_page_refuses_the_whole_upload(sender_api: Api) -> None:
    fields = '[{"kind": "signature", "role": "client", "page": 2, "x": 1, "y": 1, "width": 50, "height": 20}]'
    response = sender_api.upload(
        "/documents",
        {
            "file": SimpleUploadedFile("c.pdf", blank_pdf(), "application/pdf"),
            "title": "C",
            "fields": fields,
        },
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["fields.0"]
    assert not Document.objects.exists()


def test_text_tags_become_fields(sender_api: Api) -> None:
    document = _upload(sender_api, pdf_with_tags())
    assert "signature" in {f["kind"] for f in document["fields"]}


def test_a_draft_keeps_its_plan_until_it_is_sent(sender_api: Api) -> None:
    document = _upload(sender_api)
    deadline = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=5)).isoformat()
    draft = sender_api.post(
        "/envelopes",
        {
            "document_id": document["id"],
            "parties": PARTIES,
            "language": "en",
            "deadline": deadline,
            "reminder_every_days": 2,
            "reminder_max": 4,
            "message": "Merci",
        },
    ).json()
    assert draft["status"] == "draft" and draft["message"] == "Merci"
    assert draft["reminder_every_days"] == 2
    sent = sender_api.post(f"/envelopes/{draft['id']}/send").json()
    assert sent["status"] == "awaiting_company"
    envelope = Envelope.objects.get(pk=draft["id"])
    assert (envelope.note, envelope.reminder_every_days, envelope.reminder_max) == ("Merci", 2, 4)
    assert abs((envelope.deadline - datetime.datetime.fromisoformat(deadline)).total_seconds()) < 1
    again = sender_api.post(f"/envelopes/{draft['id']}/send")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_sent"


def test_a_deadline_too_close_is_refused_at_send_naming_the_field(sender_api: Api) -> None:
    document = _upload(sender_api)
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)).isoformat()
    response = sender_api.post(
        "/envelopes",
        {"document_id": document["id"], "parties": PARTIES, "deadline": soon, "send": True},
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["deadline"]
    assert not Envelope.objects.exists()  # the whole call rolled back


def test_list_filters_and_pages_with_a_cursor(sender_api: Api, colleague_api: Api) -> None:
    ids = [_sent(sender_api)["id"] for _ in range(3)]
    first = sender_api.get("/envelopes", {"limit": 2}).json()
    assert [e["id"] for e in first["items"]] == ids[::-1][:2]
    second = sender_api.get("/envelopes", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["id"] for e in second["items"]] == [ids[0]] and second["next_cursor"] is None
    assert sender_api.get("/envelopes", {"status": "completed"}).json()["items"] == []
    both = sender_api.get("/envelopes", {"status": "awaiting_company,draft"}).json()["items"]
    assert len(both) == 3
    assert colleague_api.get("/envelopes").json()["items"] == []


def test_remind_cancel_and_correct(sender_api: Api) -> None:
    envelope = _sent(sender_api)
    path = f"/envelopes/{envelope['id']}"
    assert sender_api.post(f"{path}/remind").status_code == 200
    again = sender_api.post(f"{path}/remind")
    assert again.status_code == 400 and again.json()["error"]["code"] == "remind_cooldown"

    old_token = link_token(last_message(template="invitation", recipient="claire@example.com"))
    company = next(p for p in envelope["parties"] if p["role"] == "company")
    corrected = sender_api.post(
        f"{path}/parties/{company['id']}/correct", {"email": "claire.new@example.com"}
    )
    assert corrected.status_code == 200, corrected.content
    assert corrected.json()["parties"][0]["email"] == "claire.new@example.com"
    assert Message.objects.filter(recipient="claire.new@example.com", template="invitation")
    # The old link died with the correction.
    assert Client().get(f"/s/{old_token}/").status_code in (404, 410)

    assert sender_api.post(f"{path}/cancel", {"reason": "  "}).status_code == 400
    cancelled = sender_api.post(f"{path}/cancel", {"reason": "Wrong amount"}).json()
    assert cancelled["status"] == "cancelled" and cancelled["closed_reason"] == "Wrong amount"
    assert sender_api.post(f"{path}/cancel", {"reason": "again"}).json()["error"]["code"] == (
        "not_cancellable"
    )
    download = sender_api.get(f"{path}/sealed.pdf")
    assert download.status_code == 409 and download.json()["error"]["code"] == "not_sealed"


def test_a_key_sees_and_acts_only_where_its_employee_may(
    sender_api: Api, colleague_api: Api, manager_api: Api
) -> None:
    envelope = _sent(sender_api)
    path = f"/envelopes/{envelope['id']}"
    assert colleague_api.get(path).status_code == 404
    assert colleague_api.post(f"{path}/cancel", {"reason": "x"}).status_code == 404
    assert colleague_api.get(f"/documents/{envelope['document_id']}").status_code == 404
    assert manager_api.get(path).status_code == 200
    assert Envelope.objects.get(pk=envelope["id"]).status == "awaiting_company"


def test_only_a_manager_chooses_another_responsible(
    sender_api: Api, manager_api: Api, sender: User, colleague: User
) -> None:
    counterparty = sender_api.post("/counterparties", {"legal_name": "Acme"}).json()
    body = {"title": "D", "counterparty_id": counterparty["id"], "responsible_id": colleague.pk}
    refused = sender_api.post("/deals", body)
    assert refused.status_code == 403 and "responsible_id" in refused.json()["error"]["fields"]
    deal = manager_api.post("/deals", body).json()
    assert deal["responsible_id"] == colleague.pk
    assert sender_api.get("/deals").json()["items"] == []


def test_the_templates_scope_creates_and_changes_templates(
    sender: User, colleague: User, sender_api: Api
) -> None:
    from tests.api.conftest import api_for

    body = {"name": "Devis", "kind": "other", "language": "fr", "body": "<p>{{ deal.title }}</p>"}
    assert api_for(sender, ["read", "send"]).post("/templates", body).status_code == 403
    created = sender_api.post("/templates", body)
    assert created.status_code == 201, created.content
    template_id = created.json()["id"]
    renamed = sender_api.patch(f"/templates/{template_id}", {"name": "Devis 2026"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Devis 2026"
    broken = sender_api.patch(f"/templates/{template_id}", {"body": "{% load x %}"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "document_invalid"
    assert api_for(colleague).patch(f"/templates/{template_id}", {"name": "x"}).status_code == 404
    builtin = next(t for t in sender_api.get("/templates").json() if t["builtin"])
    assert sender_api.patch(f"/templates/{builtin['id']}", {"name": "x"}).status_code == 403
