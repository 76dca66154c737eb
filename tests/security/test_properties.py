"""Property-based tests: whatever a person or a program posts to the send form, the signer's
submission or the verification API, the answer is a clear error or a success, never a 500.

Each example runs in a savepoint that is rolled back, so every example starts from the same
draft envelope or the same signer waiting to sign. The Django test client re-raises any
exception a view lets escape, so a crash fails the property with its traceback.
"""

import base64
import io
import json
import struct
import uuid
import zlib
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from crm.models import Invoice, OwnCompany
from documents.models import Document, Field
from signing.models import Envelope, Party
from tests import factories
from tests.security.conftest import blank_pdf
from tests.signing.conftest import link_token, send_form, sign_with_code, stamp_png

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a browser, a script or an attacker might send: any Unicode (NUL and lone surrogates
# are not encodable in a form post, so the blacklist keeps what a real client can send).
any_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=300,
)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels: a decompression bomb when they are big."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    )


def _png(width: int = 40, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "black").save(out, format="PNG")
    return out.getvalue()


# Files that are interesting to an image decoder: real images, truncated ones, bombs, noise.
image_bytes = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from(
        [
            b"",
            _png(),
            _png()[:30],
            stamp_png(),
            _png_header(100_000, 100_000),
            _png_header(0, 0),
            b"GIF89a" + b"\x00" * 20,
            b"\xff\xd8\xff\xe0" + b"\x00" * 40,
            blank_pdf(),
        ]
    ),
)
data_urls = st.one_of(
    any_text,
    image_bytes.map(lambda raw: "data:image/png;base64," + base64.b64encode(raw).decode()),
    st.sampled_from(["data:image/png;base64,", "data:image/png;base64,!!!!", "data:,"]),
)


# --- the send form -------------------------------------------------------------------------------


@pytest.fixture
def draft(company: OwnCompany, sender: User) -> tuple[Client, Document]:
    """A draft envelope for an invoice, as the sender sees it on the send form."""
    deal = factories.make_deal(company=company, responsible=sender)
    invoice: Invoice = factories.make_invoice(deal)
    client = Client()
    client.force_login(sender)
    response = client.post(f"/invoices/{invoice.pk}/send/")
    assert response.status_code == 302, response.content[:500]
    document = Document.objects.get(invoice=invoice)
    assert response["Location"].endswith(f"/send/{document.pk}/")
    return client, document


def _field_value(valid: list[str]) -> st.SearchStrategy[str | None]:
    # None leaves the field out of the post altogether.
    return st.one_of(st.none(), st.sampled_from(valid), any_text)


send_posts = st.fixed_dictionaries(
    {
        "company-name": _field_value(["Claire Dubois", ""]),
        "company-email": _field_value(["claire.dubois@atelier-lumiere.fr", "not-an-email", ""]),
        "company-phone": _field_value(["", "06 12 34 56 78", "+33612345678", "123"]),
        "company-channel": _field_value(["email", "sms", "fax"]),
        "client-name": _field_value(["Paul Martin", ""]),
        "client-email": _field_value(["paul@example.com", "", "a@b"]),
        "client-phone": _field_value(["06 98 76 54 32", "", "+1 202 555 0100", "99999999999999"]),
        "client-channel": _field_value(["sms", "email", ""]),
        "language": _field_value(["en", "fr", "de", ""]),
        "deadline_days": _field_value(["30", "0", "-1", "366", "1e9", "99999999999999999999"]),
        "reminder_every_days": _field_value(["0", "1", "3", "7", "5", "x"]),
        "reminder_max": _field_value(["3", "0", "21", "NaN"]),
        "require_client_stamp": _field_value(["on", "1", ""]),
        "note": _field_value(["Merci", "x" * 1001]),
    }
)


@PROPERTY
@given(post=send_posts)
def test_the_send_form_answers_every_post_with_errors_or_a_send(draft, post):
    client, document = draft
    data = {key: value for key, value in post.items() if value is not None}
    with transaction.atomic():
        response = client.post(f"/send/{document.pk}/", data)
        envelope = Envelope.objects.get(document=document)
        if response.status_code == 302:
            # Success: sent, the first signer invited.
            assert response["Location"] == f"/envelopes/{envelope.pk}/"
            assert envelope.status == Envelope.Status.AWAITING_COMPANY
        else:
            # Refused: the form again, with at least one error a person can read.
            assert response.status_code == 400, response.status_code
            assert envelope.status == Envelope.Status.DRAFT
            assert 'role="alert"' in response.content.decode()
        transaction.set_rollback(True)


def test_the_send_form_sends_a_valid_post(draft):
    """The property's success branch is reachable: a good post sends."""
    client, document = draft
    response = client.post(f"/send/{document.pk}/", send_form())
    assert response.status_code == 302
    assert Envelope.objects.get(document=document).status == Envelope.Status.AWAITING_COMPANY


# --- the signer's submission ---------------------------------------------------------------------


@pytest.fixture
def signer(draft, django_capture_on_commit_callbacks) -> tuple[Client, str, Party]:
    """The company's director holding a link, with the code confirmed in their session."""
    sender_client, document = draft
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/send/{document.pk}/", send_form())
    assert response.status_code == 302
    envelope = Envelope.objects.get(document=document)
    party = envelope.parties.get(role=Party.Role.COMPANY)
    invitation = envelope.messages.get(template="invitation", party=party)
    token = link_token(invitation)
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(client, token, party.email)
    return client, token, party


def _submission(fields: list[Field]) -> st.SearchStrategy[dict[str, Any]]:
    values: dict[str, Any] = {
        "signature-method": _field_value(["typed", "drawn", "uploaded", "default", ""]),
        "signature-typed": _field_value(["Claire Dubois", "", " ", "x" * 81]),
        "signature-drawn": st.one_of(st.none(), data_urls),
        "signature-file": st.one_of(st.none(), image_bytes),
        "stamp-method": _field_value(["uploaded", "default", "typed", ""]),
        "stamp-file": st.one_of(st.none(), image_bytes),
        "consent": _field_value(["1", "0", "on"]),
    }
    for field in fields:
        values[f"field-{field.pk}"] = _field_value(["1", "Bon pour accord", "12.5", ""])
    return st.fixed_dictionaries(values)


@pytest.fixture
def company_fields(signer) -> list[Field]:
    _, _, party = signer
    return list(Field.objects.filter(document=party.envelope.document, role=party.role))


def _multipart(post: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in post.items():
        if value is None:
            continue
        if key.endswith("-file"):
            data[key] = SimpleUploadedFile("photo.png", value, "image/png")
        else:
            data[key] = value
    return data


def test_the_signer_submission_answers_every_post_with_an_error_or_a_signature(
    signer, company_fields
):
    client, token, party = signer

    @PROPERTY
    @given(post=_submission(company_fields))
    def check(post: dict[str, Any]) -> None:
        with transaction.atomic():
            response = client.post(f"/s/{token}/sign/", _multipart(post))
            party.refresh_from_db()
            if response.status_code == 400:
                # A value to fix: the form again, the message next to its input, nothing signed.
                assert party.status != Party.Status.SIGNED
                assert 'id="error-' in response.content.decode()
                transaction.set_rollback(True)
                return
            # Otherwise back to the signing page with a message saying what happened.
            assert response.status_code == 302, response.status_code
            assert response["Location"] == f"/s/{token}/"
            page = client.get(f"/s/{token}/")
            assert page.status_code == 200
            text = page.content.decode()
            if party.status == Party.Status.SIGNED:
                assert "your signature is recorded" in text
            else:
                assert "flash-error" in text, text[:2000]
            transaction.set_rollback(True)

    check()


def test_the_signer_submission_records_a_valid_signature(signer):
    client, token, party = signer
    response = client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Claire Dubois",
            "stamp-method": "uploaded",
            "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
            "consent": "1",
        },
    )
    assert response.status_code == 302
    party.refresh_from_db()
    assert party.status == Party.Status.SIGNED


# --- the verification API ------------------------------------------------------------------------

PDF = blank_pdf()
mutated_pdfs = st.tuples(
    st.integers(min_value=0, max_value=len(PDF) - 1), st.integers(min_value=0, max_value=255)
).map(lambda change: PDF[: change[0]] + bytes([change[1]]) + PDF[change[0] + 1 :])
verify_files = st.one_of(
    st.binary(max_size=4096),
    st.binary(max_size=2048).map(lambda tail: b"%PDF-1.7\n" + tail),
    mutated_pdfs,
    st.sampled_from([PDF, PDF[: len(PDF) // 2], b"%PDF-", b"%PDF-1.7\n%%EOF\n"]),
)


@pytest.fixture
def open_rate_limit(settings) -> None:
    # The property sends more than a minute's worth of uploads from one address.
    settings.SIGNFLOW_VERIFY_RATE_PER_MINUTE = 10_000


def _assert_documented_answer(response: Any) -> None:
    assert response.status_code in {200, 400, 413, 415, 429}, response.status_code
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert {"schema", "verdict", "message", "error"} <= set(body)
    if response.status_code == 200:
        assert body["error"] is None
        assert body["verdict"] in {"authentic", "modified", "unknown"}
    else:
        assert body["verdict"] is None
        assert set(body["error"]) == {"code", "message"}
        assert body["error"]["code"] and body["error"]["message"]


@PROPERTY
@given(
    content=verify_files,
    name=any_text,
    content_type=st.sampled_from(["application/pdf", "text/plain", "", "image/png"]),
    field=st.sampled_from(["file", "file", "pdf"]),
    extra=st.dictionaries(st.sampled_from(["code", "file", "x"]), any_text, max_size=2),
)
def test_the_verification_api_answers_every_upload_in_its_documented_shape(
    client, open_rate_limit, content, name, content_type, field, extra
):
    # Built by hand: the test client refuses file names such as "/" that a stranger may send.
    boundary = "sf" + uuid.uuid4().hex
    body = b""
    for key, value in extra.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        ).encode()
    quoted = name.replace('"', "%22").replace("\r", " ").replace("\n", " ")
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{quoted}"'
        f"\r\nContent-Type: {content_type or 'application/octet-stream'}\r\n\r\n"
    ).encode() + content
    body += f"\r\n--{boundary}--\r\n".encode()
    response = client.generic(
        "POST", "/api/verify", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    _assert_documented_answer(response)


@PROPERTY
@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(
        [
            "application/pdf",
            "application/json",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=xyz",
            "application/x-www-form-urlencoded",
            "text/plain; charset=unknown-8",
        ]
    ),
)
def test_the_verification_api_answers_any_raw_body_in_its_documented_shape(
    client, open_rate_limit, body, content_type
):
    # A multipart body that cannot be parsed at all (no boundary) is a `no_file` JSON error too,
    # not Django's plain "Bad Request" page.
    response = client.generic("POST", "/api/verify", body, content_type=content_type)
    _assert_documented_answer(response)


def test_the_verification_api_answers_a_pdf_whose_pages_do_not_load(client, open_rate_limit):
    # Found by the property above: a page tree without /Kids made pdfium raise (a 500).
    content = (
        b"%PDF-\n1\x00+\x00obj<</Type/Pages>>2\x00+\x00obj<<///Pages\x001\x00+\x00R>>"
        b"trailer<</Root\x002\x00+\x00R>>"
    )
    upload = SimpleUploadedFile("broken.pdf", content, "application/pdf")
    response = client.post("/api/verify", {"file": upload})
    _assert_documented_answer(response)


def test_the_verification_api_gives_a_verdict_for_a_real_pdf(client, open_rate_limit):
    upload = SimpleUploadedFile("contrat.pdf", PDF, "application/pdf")
    response = client.post("/api/verify", {"file": upload})
    assert response.status_code == 200
    assert json.loads(response.content)["verdict"] == "unknown"
