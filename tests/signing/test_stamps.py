"""Stamps (issue 12): our company's stamp uploaded once by a manager and offered to the
director; the client's stamp exists only when the company asks for it, and a field nobody
filled leaves no box on the sealed PDF."""

import io

import pypdfium2 as pdfium
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from PIL import Image, ImageDraw

from crm.models import Counterparty, Invoice, OwnCompany
from documents.flatten import FlattenValue, erase_unfilled, flatten_pdf
from documents.services import document_create_from_invoice
from signing.models import Envelope
from tests import factories
from tests.signing.conftest import last_message, link_token, party, send_form, sign_with_code

pytestmark = pytest.mark.django_db


def stamp_photo(fmt: str = "JPEG") -> bytes:
    """A stamp photographed on paper: off-white background, a red ring with text."""
    image = Image.new("RGB", (400, 400), (246, 244, 238))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 360, 360), outline=(200, 30, 40), width=18)
    draw.text((150, 190), "CACHET", fill=(200, 30, 40))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.fixture
def manager_client(manager) -> Client:
    client = Client()
    client.force_login(manager)
    return client


# --- Our company's stamp ----------------------------------------------------------------------


def test_a_manager_uploads_the_stamp_once_with_its_background_removed_and_colour_kept(
    manager_client: Client, company: OwnCompany
) -> None:
    url = f"/companies/{company.pk}/stamp/"
    assert manager_client.get(url).status_code == 200
    upload = SimpleUploadedFile("cachet.jpg", stamp_photo(), "image/jpeg")
    response = manager_client.post(url, {"stamp": upload})
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.default_stamp.name.endswith(".png")
    with company.default_stamp.open("rb") as fh:
        stored = Image.open(io.BytesIO(fh.read()))
        stored.load()
    assert stored.mode == "RGBA"
    assert stored.getpixel((0, 0))[3] == 0  # the paper is transparent
    ink = [p for p in stored.get_flattened_data() if p[3] > 200]
    assert ink, "no ink left"
    red = sum(1 for r, g, b, _a in ink if r > 150 and g < 90 and b < 90)
    assert red / len(ink) > 0.8  # a red stamp stays red
    page = manager_client.get(url).content.decode()
    assert 'id="current-stamp"' in page
    image = manager_client.get(f"/companies/{company.pk}/stamp.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.png", b"this is not an image", "not an image we can read"),
        ("empty.png", b"", "empty"),
        ("huge.png", b"\x89PNG" + b"0" * (10 * 1024 * 1024 + 1), "too large"),
    ],
)
def test_a_bad_stamp_upload_gives_a_friendly_error_and_saves_nothing(
    manager_client: Client, company: OwnCompany, name: str, data: bytes, message: str
) -> None:
    response = manager_client.post(
        f"/companies/{company.pk}/stamp/", {"stamp": SimpleUploadedFile(name, data, "image/png")}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert 'id="error-stamp"' in text and message in text
    company.refresh_from_db()
    assert not company.default_stamp


def test_a_pixel_bomb_stamp_is_refused(manager_client: Client, company: OwnCompany) -> None:
    out = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(out, "PNG")  # 36 MP, tiny file
    response = manager_client.post(
        f"/companies/{company.pk}/stamp/",
        {"stamp": SimpleUploadedFile("bomb.png", out.getvalue(), "image/png")},
    )
    assert response.status_code == 400
    assert "too many pixels" in response.content.decode()
    company.refresh_from_db()
    assert not company.default_stamp


def test_an_employee_cannot_change_the_stamp(sender_client: Client, company: OwnCompany) -> None:
    upload = SimpleUploadedFile("cachet.jpg", stamp_photo(), "image/jpeg")
    response = sender_client.post(f"/companies/{company.pk}/stamp/", {"stamp": upload})
    assert response.status_code == 404
    company.refresh_from_db()
    assert not company.default_stamp


def test_seed_demo_gives_the_demo_company_a_round_stamp(settings, tmp_path) -> None:
    call_command("seed_demo", verbosity=0)
    company = OwnCompany.objects.get(legal_name="Atelier Lumière SAS")
    assert company.default_stamp
    with company.default_stamp.open("rb") as fh:
        image = Image.open(io.BytesIO(fh.read()))
        image.load()
    assert image.mode == "RGBA" and image.size[0] == image.size[1]
    assert image.getpixel((0, 0))[3] == 0  # outside the ring: transparent
    call_command("seed_demo", verbosity=0)  # idempotent: the same stamp stays
    assert OwnCompany.objects.get(pk=company.pk).default_stamp.name == company.default_stamp.name


# --- The director's page -----------------------------------------------------------------------


def _director(sent_envelope: Envelope) -> tuple[Client, str]:
    director = party(sent_envelope, "company")
    token = link_token(last_message(template="invitation", recipient=director.recipient))
    client = Client()
    sign_with_code(client, token, director.recipient)
    return client, token


@pytest.fixture
def stamped_company(company: OwnCompany) -> OwnCompany:
    from signing.stamps import company_stamp_set

    return company_stamp_set(company=company, data=stamp_photo("PNG"))


def test_the_directors_page_preselects_the_company_stamp(
    stamped_company: OwnCompany, sent_envelope: Envelope
) -> None:
    client, token = _director(sent_envelope)
    page = client.get(f"/s/{token}/").content.decode()
    assert 'name="stamp-method" value="default" checked' in page
    assert 'name="stamp-method" value="uploaded"' in page  # upload stays the alternative
    response = client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Claire Dubois",
            "stamp-method": "default",
            "consent": "1",
        },
    )
    assert response.status_code == 302
    stamp = sent_envelope.document.fields.get(key="company-stamp")
    assert stamp.value.image  # the company's stamp, fitted into the box


def test_a_missing_required_stamp_is_reported_next_to_it_and_the_form_keeps_its_values(
    sent_envelope: Envelope,
) -> None:
    client, token = _director(sent_envelope)
    page = client.get(f"/s/{token}/").content.decode()
    assert "(required)" in page  # the company stamp of the invoice is required
    response = client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Claire D.",
            "stamp-method": "uploaded",
            "consent": "1",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert 'id="error-stamp"' in text
    assert 'name="consent" value="1" required checked' in text
    assert 'value="Claire D."' in text
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_COMPANY


# --- The client's stamp: the company's setting decides ------------------------------------------


def test_without_the_setting_no_client_stamp_exists_anywhere(
    sender_client: Client, invoice: Invoice, company: OwnCompany
) -> None:
    assert not company.ask_client_stamp
    response = sender_client.post(f"/invoices/{invoice.pk}/send/")
    screen = sender_client.get(response["Location"]).content.decode()
    assert "Client stamp" not in screen
    assert "Ask a company client for its stamp" not in screen  # no per-send override
    document = invoice.documents.get()
    assert not document.fields.filter(role="client", kind="stamp").exists()
    editor = sender_client.get(f"/documents/{document.pk}/fields/").content.decode()
    assert "Client stamp" not in editor


def test_with_the_setting_the_client_is_asked_for_its_stamp(
    sender_client: Client, invoice: Invoice, company: OwnCompany, django_capture_on_commit_callbacks
) -> None:
    company.ask_client_stamp = True
    company.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/invoices/{invoice.pk}/send/")
        screen = sender_client.get(response["Location"]).content.decode()
        assert "Client stamp" in screen
        sender_client.post(response["Location"], send_form())
    envelope = Envelope.objects.get(document__invoice=invoice)
    stamp = envelope.document.fields.get(role="client", kind="stamp")
    assert stamp.required


def test_a_stamp_field_that_is_not_asked_is_removed_when_sending(
    sender_client: Client, company: OwnCompany, sender, django_capture_on_commit_callbacks
) -> None:
    """A document that has one anyway (a custom template, a field placed by hand)."""
    company.ask_client_stamp = True
    company.save()
    deal = factories.make_deal(company=company, responsible=sender)
    invoice = factories.make_invoice(deal)
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    assert document.fields.filter(key="client-stamp").exists()
    company.ask_client_stamp = False
    company.save()
    from signing import services

    envelope = services.envelope_create(document=document, responsible=sender, language="fr")
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/send/{document.pk}/", send_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.AWAITING_COMPANY
    assert not document.fields.filter(key="client-stamp").exists()


def test_an_individual_is_never_asked_for_a_stamp(
    sender_client: Client, company: OwnCompany, sender, django_capture_on_commit_callbacks
) -> None:
    company.ask_client_stamp = True
    company.save()
    person = factories.make_counterparty(
        kind=Counterparty.Kind.INDIVIDUAL, legal_name="Jeanne Moreau", siren=""
    )
    deal = factories.make_deal(company=company, responsible=sender, counterparty=person)
    invoice = factories.make_invoice(deal)
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/invoices/{invoice.pk}/send/")
        sender_client.post(response["Location"], send_form())
    envelope = Envelope.objects.get(document__invoice=invoice)
    assert not envelope.document.fields.filter(kind="stamp", role="client").exists()


# --- The sealed PDF: nothing left looking pending -----------------------------------------------


def _ink_in(pdf: bytes, field, *, scale: float = 2.0) -> int:
    """Non-white pixels in the field's box and its caption above it."""
    page = pdfium.PdfDocument(pdf)[field.page - 1]
    height = page.get_height()
    image = page.render(scale=scale).to_pil().convert("L")
    box = (
        round((field.x - 1) * scale),
        round((height - field.y - field.height - 12) * scale),
        round((field.x + field.width + 1) * scale),
        round((height - field.y + 1) * scale),
    )
    return sum(1 for v in image.crop(box).getdata() if v < 200)


def test_a_field_nobody_filled_leaves_no_box_on_the_sealed_pdf(invoice: Invoice, sender) -> None:
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    signature = document.fields.get(key="company-signature")
    mention = document.fields.get(key="client-mention")  # optional, left empty
    stamp = document.fields.get(key="company-stamp")
    assert _ink_in(document.pdf.open("rb").read(), mention) > 0  # drawn in the rendered PDF
    values = [FlattenValue(field=signature, text="Claire Dubois"), FlattenValue(field=stamp)]
    flat = flatten_pdf(document=document, values=values)
    sealed = erase_unfilled(document=document, data=flat, values=values)
    assert _ink_in(sealed, mention) == 0
    assert _ink_in(sealed, stamp) == 0  # a value without text or image is no value
    assert _ink_in(sealed, signature) > 0  # a filled field keeps its frame and value
