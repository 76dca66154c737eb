"""Signing on a phone, through the HTTP client: the copy downloaded before signing, page images
for the screen's pixel ratio, errors next to their field with the values kept, and each stored
signature fitted into its own box."""

import hashlib
import io
import subprocess

import pytest
from django.test import Client
from PIL import Image, ImageDraw

from documents.models import Field
from signing import images
from signing.models import Envelope, Event, FieldValue, Party
from tests.signing.conftest import last_message, link_token, party, sign_with_code, stamp_png

pytestmark = pytest.mark.django_db

DIRECTOR = "claire.dubois@atelier-lumiere.fr"


def _token() -> str:
    return link_token(last_message(template="invitation", recipient=DIRECTOR))


@pytest.fixture
def director(sent_envelope: Envelope, django_capture_on_commit_callbacks) -> tuple[Client, str]:
    """The director's browser, holding the link and past the code step."""
    signer, token = Client(), _token()
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(signer, token, DIRECTOR)
    return signer, token


def director_signs(signer: Client, token: str, **overrides: str):
    """The director's form: a typed name, an uploaded stamp, the consent ticked."""
    data: dict = {
        "signature-method": "typed",
        "signature-typed": "Claire Dubois",
        "stamp-method": "uploaded",
        "stamp-file": io.BytesIO(stamp_png()),
        "consent": "1",
    }
    data.update(overrides)
    return signer.post(f"/s/{token}/sign/", {k: v for k, v in data.items() if v is not None})


def _ink(png: bytes) -> tuple[Image.Image, tuple[int, int, int, int]]:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    bbox = image.getchannel("A").getbbox()
    assert bbox is not None
    return image, bbox


# -- the ink fitted into the box ---------------------------------------------------------------


def _drawing(width: int, height: int, stroke: tuple[int, int, int, int]) -> bytes:
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    ImageDraw.Draw(image).line(stroke, fill=(16, 32, 96, 255), width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_ink_is_trimmed_centred_and_scaled_into_the_box_with_a_margin():
    # A wide pad (994 x 180, the old one) with a small scribble in its left corner, for a
    # 2.3 : 1 signature box of 156 x 68 pt.
    image, (left, top, right, bottom) = _ink(
        images.fit_to_box(_drawing(994, 180, (10, 20, 200, 120)), width=156, height=68)
    )
    assert abs(image.width / image.height - 156 / 68) < 0.02  # the box's shape
    margin = round(min(image.size) * images.FIT_MARGIN)
    # Centred: equal room left and right, top and bottom (one pixel of rounding).
    assert abs(left - (image.width - right)) <= 2
    assert abs(top - (image.height - bottom)) <= 2
    # Scaled up to the margin on the tighter side, never touching the edge.
    assert min(left, top) >= margin - 2
    assert min(left, top) <= margin + 2
    assert image.getpixel((0, 0))[3] == 0


def test_a_tall_drawing_keeps_its_proportions_in_a_wide_box():
    image, (left, top, right, bottom) = _ink(
        images.fit_to_box(_drawing(200, 400, (100, 10, 100, 390)), width=200, height=50)
    )
    assert image.width == 4 * image.height
    # Height-bound: it fills the height up to the margin and is narrow, in the middle.
    assert bottom - top > image.height * 0.75
    assert right - left < image.width * 0.1
    assert abs((left + right) / 2 - image.width / 2) <= 2


def test_an_empty_drawing_cannot_be_fitted():
    blank = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(blank, "PNG")
    with pytest.raises(images.ImageError):
        images.fit_to_box(blank.getvalue(), width=100, height=50)


def test_the_stored_signature_has_the_shape_of_its_field(director, sent_envelope: Envelope):
    signer, token = director
    response = director_signs(signer, token)
    assert response.status_code == 302
    for value in FieldValue.objects.filter(party__envelope=sent_envelope).exclude(image=""):
        field = value.field
        with value.image.open("rb") as fh:
            image, bbox = _ink(fh.read())
        assert abs(image.width / image.height - field.width / field.height) < 0.03, field.kind
        assert bbox[0] > 0 and bbox[1] > 0 and bbox[2] < image.width and bbox[3] < image.height


# -- errors next to the field, values kept ------------------------------------------------------


def test_an_error_shows_next_to_its_field_and_keeps_the_consent_and_the_typed_name(
    director, sent_envelope: Envelope
):
    signer, token = director
    response = signer.post(
        f"/s/{token}/sign/",
        {"signature-method": "typed", "signature-typed": "Claire D.", "consent": "1"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    stamp = Field.objects.get(document=sent_envelope.document, role="company", kind="stamp")
    # The message sits inside the stamp's own fieldset, described by its input.
    block = html[html.index('id="capture-stamp"') : html.index('id="consent-block"')]
    assert 'id="error-stamp"' in block
    assert f"Fill in “{stamp.label}” before signing." in block
    assert 'aria-describedby="error-stamp"' in block
    consent = html[html.index('id="consent-block"') :]
    assert 'name="consent" value="1" required checked' in consent
    assert 'value="Claire D."' in html
    assert party(sent_envelope, "company").status == Party.Status.ACTIVE


def test_an_unticked_consent_is_reported_next_to_the_box(director):
    signer, token = director
    response = director_signs(signer, token, consent=None)
    assert response.status_code == 400
    html = response.content.decode()
    consent = html[html.index('id="consent-block"') :]
    assert 'aria-describedby="error-consent"' in consent
    assert "Accept the terms of electronic signature to sign." in consent


def test_an_unreadable_drawing_is_reported_on_the_signature(director):
    signer, token = director
    response = signer.post(
        f"/s/{token}/sign/",
        {"signature-method": "drawn", "signature-drawn": "data:image/png;base64,AAAA"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    block = html[html.index('id="capture-signature"') : html.index('id="capture-stamp"')]
    assert "could not be read" in block
    # The drawing method stays chosen.
    assert 'value="drawn" checked' in block


# -- the copy before signing ---------------------------------------------------------------


def test_the_copy_before_signing_is_the_document_with_its_fields_and_is_audited(
    director, sent_envelope: Envelope, tmp_path
):
    signer, token = director
    page = signer.get(f"/s/{token}/").content.decode()
    assert f'action="/s/{token}/copy.pdf"' in page
    response = signer.post(f"/s/{token}/copy.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    path = tmp_path / "copy.pdf"
    path.write_bytes(response.content)
    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    # The empty fields are drawn with their labels, over the document's own text.
    for field in Field.objects.filter(document=sent_envelope.document).exclude(label=""):
        assert field.label in text
    event = Event.objects.get(envelope=sent_envelope, type=Event.Type.COPY_DOWNLOADED)
    assert event.party == party(sent_envelope, "company")
    assert event.data["sha256"] == hashlib.sha256(response.content).hexdigest()


def test_the_copy_needs_the_code_and_a_post(sent_envelope: Envelope):
    token = _token()
    stranger = Client()
    assert stranger.get(f"/s/{token}/copy.pdf").status_code == 405
    response = stranger.post(f"/s/{token}/copy.pdf")
    assert response.status_code == 302
    assert not Event.objects.filter(type=Event.Type.COPY_DOWNLOADED).exists()
    assert Client().post("/s/made-up/copy.pdf").status_code == 404


def test_the_client_copy_shows_the_director_signature(
    director, sent_envelope: Envelope, django_capture_on_commit_callbacks, tmp_path
):
    signer, token = director
    with django_capture_on_commit_callbacks(execute=True):
        director_signs(signer, token)
    client_message = last_message(template="invitation", recipient="+33698765432")
    client_token, client = link_token(client_message), Client()
    with django_capture_on_commit_callbacks(execute=True):
        sign_with_code(client, client_token, "+33698765432")
    response = client.post(f"/s/{client_token}/copy.pdf")
    assert response.status_code == 200
    path = tmp_path / "copy.pdf"
    path.write_bytes(response.content)
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert len(listing.strip().splitlines()) > 2  # the director's signature and stamp images
    # The signed director sees the page with their values in place, not a form.
    done = signer.get(f"/s/{token}/").content.decode()
    assert "Your signature on the document" in done
    assert 'class="fieldbox-ink" src="data:image/png;base64,' in done


# -- page images for the pixel ratio -------------------------------------------------------


def test_page_images_come_in_a_few_widths_only(director):
    signer, token = director
    page = signer.get(f"/s/{token}/").content.decode()
    assert f"/s/{token}/pages/1.png?size=large 2000w" in page
    widths = {}
    for size in ["page", "large", "huge", "../x"]:
        response = signer.get(f"/s/{token}/pages/1.png", {"size": size})
        assert response.status_code == 200
        widths[size] = Image.open(io.BytesIO(response.content)).width
    assert widths == {"page": 1000, "large": 2000, "huge": 1000, "../x": 1000}


def test_copies_are_limited_per_day(director, sent_envelope: Envelope, monkeypatch):
    from signing.services import viewing

    monkeypatch.setattr(viewing, "COPIES_PER_DAY", 2)
    signer, token = director
    assert signer.post(f"/s/{token}/copy.pdf").status_code == 200
    assert signer.post(f"/s/{token}/copy.pdf").status_code == 200
    refused = signer.post(f"/s/{token}/copy.pdf", follow=True)
    assert "many times today" in refused.content.decode()
    assert Event.objects.filter(type=Event.Type.COPY_DOWNLOADED).count() == 2
