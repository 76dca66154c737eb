"""Flattening draws each value inside its field's rectangle and changes nothing else."""

import io

import pytest
from PIL import Image, ImageChops, ImageDraw
from pypdf import PdfReader

from documents.flatten import FlattenValue, fit_font_size, flatten_pdf
from documents.models import Field
from documents.services import document_create_from_invoice, document_create_from_upload
from tests.documents.conftest import blank_pdf, render, upload

SCALE = 2.0


def signature_png(width: int = 600, height: int = 200) -> bytes:
    """A black scribble on a transparent background, touching every edge of the image."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line(
        [(0, height // 2), (width // 3, 0), (2 * width // 3, height - 1), (width - 1, height // 2)],
        fill=(0, 0, 0, 255),
        width=8,
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def changed_pixels_box(before: Image.Image, after: Image.Image):
    diff = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 40 else 0)
    return diff.getbbox()


def field_box_px(field: Field, page_height: float) -> tuple[float, float, float, float]:
    return (
        field.x * SCALE,
        (page_height - field.y - field.height) * SCALE,
        (field.x + field.width) * SCALE,
        (page_height - field.y) * SCALE,
    )


def assert_inside(changed, box, tolerance: float = 2.0):
    assert changed is not None, "nothing was drawn"
    left, top, right, bottom = changed
    assert left >= box[0] - tolerance
    assert top >= box[1] - tolerance
    assert right <= box[2] + tolerance
    assert bottom <= box[3] + tolerance


@pytest.fixture
def uploaded(sender):
    return document_create_from_upload(
        uploaded_file=upload(blank_pdf(pages=2)), title="Contrat", creator=sender
    )


def test_a_signature_image_lands_inside_its_box_and_nowhere_else(uploaded):
    field = uploaded.fields.get(key="client-signature")
    original = uploaded.pdf.open("rb").read()
    flattened = flatten_pdf(
        document=uploaded, values=[FlattenValue(field=field, image=signature_png())]
    )
    page_height = float(PdfReader(io.BytesIO(flattened)).pages[1].mediabox.height)
    changed = changed_pixels_box(
        render(original, page=2, scale=SCALE), render(flattened, page=2, scale=SCALE)
    )
    box = field_box_px(field, page_height)
    assert_inside(changed, box)
    # Aspect ratio kept (3:1 image in a wider-than-tall box): the ink spans the box's height
    # and is centred horizontally.
    left, top, right, bottom = changed
    ink_width, ink_height = right - left, bottom - top
    assert ink_width / ink_height == pytest.approx(3, rel=0.1)
    assert (left + right) / 2 == pytest.approx((box[0] + box[2]) / 2, abs=3)
    # The first page is untouched.
    assert changed_pixels_box(render(original, page=1), render(flattened, page=1)) is None


def test_a_tall_stamp_keeps_its_aspect_ratio_and_is_centred(uploaded):
    field = uploaded.fields.get(key="company-signature")  # wide box
    stamp = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).ellipse((0, 0, 199, 199), outline=(20, 40, 200, 255), width=10)
    out = io.BytesIO()
    stamp.save(out, "PNG")
    flattened = flatten_pdf(
        document=uploaded, values=[FlattenValue(field=field, image=out.getvalue())]
    )
    original = uploaded.pdf.open("rb").read()
    page_height = 841.89
    changed = changed_pixels_box(
        render(original, page=2, scale=SCALE), render(flattened, page=2, scale=SCALE)
    )
    box = field_box_px(field, page_height)
    assert_inside(changed, box)
    left, top, right, bottom = changed
    assert (right - left) == pytest.approx(bottom - top, rel=0.05)
    assert (left + right) / 2 == pytest.approx((box[0] + box[2]) / 2, abs=3)


def test_text_too_long_for_its_box_shrinks_to_fit_inside_it(uploaded):
    field = Field.objects.create(
        document=uploaded,
        key="name-client-9",
        kind="name",
        role="client",
        page=1,
        x=100,
        y=500,
        width=120,
        height=20,
    )
    text = "Jean-Baptiste Alexandre de la Rochefoucauld-Montbazon"
    flattened = flatten_pdf(document=uploaded, values=[FlattenValue(field=field, text=text)])
    original = uploaded.pdf.open("rb").read()
    changed = changed_pixels_box(render(original, scale=SCALE), render(flattened, scale=SCALE))
    assert_inside(changed, field_box_px(field, 841.89))
    assert text in PdfReader(io.BytesIO(flattened)).pages[0].extract_text().replace("\n", "")
    assert fit_font_size(text, width=120, height=20) < 0.7 * 20


def test_every_value_of_an_invoice_lands_in_its_own_box(invoice, sender):
    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    fields = {field.key: field for field in document.fields.all()}
    values = [
        FlattenValue(field=fields["company-signature"], image=signature_png()),
        FlattenValue(field=fields["company-stamp"], image=signature_png(300, 300)),
        FlattenValue(field=fields["company-date"], text="27/11/2026"),
        FlattenValue(field=fields["client-signature"], image=signature_png(400, 300)),
    ]
    flattened = flatten_pdf(document=document, values=values)
    original = document.pdf.open("rb").read()
    before, after = render(original, scale=SCALE), render(flattened, scale=SCALE)
    page_height = float(PdfReader(io.BytesIO(original)).pages[0].mediabox.height)
    for value in values:
        # Blank everything but this field in both renders, then compare: no ink leaks out.
        box = field_box_px(value.field, page_height)
        mask = Image.new("L", before.size, 255)
        ImageDraw.Draw(mask).rectangle(box, fill=0)
        assert (
            changed_pixels_box(
                Image.composite(Image.new("RGB", before.size, "white"), before, mask),
                Image.composite(Image.new("RGB", after.size, "white"), after, mask),
            )
            is not None
        ), value.field.key
    # Outside all boxes nothing changed.
    mask = Image.new("L", before.size, 0)
    for value in values:
        ImageDraw.Draw(mask).rectangle(field_box_px(value.field, page_height), fill=255)
    outside_before = Image.composite(Image.new("RGB", before.size, "white"), before, mask)
    outside_after = Image.composite(Image.new("RGB", after.size, "white"), after, mask)
    assert changed_pixels_box(outside_before, outside_after) is None
    assert PdfReader(io.BytesIO(flattened)).pages[0].extract_text().count("FACTURE") == 1


def test_a_value_of_another_documents_field_is_refused(uploaded, sender):
    other = document_create_from_upload(
        uploaded_file=upload(blank_pdf(pages=1)), title="B", creator=sender
    )
    with pytest.raises(ValueError):
        flatten_pdf(document=uploaded, values=[FlattenValue(field=other.fields.first(), text="x")])


def _pdftoppm(pdf: bytes, tmp_path, name: str) -> list[bytes]:
    """Every page as pdftoppm draws it (PPM bytes, 100 dpi)."""
    import subprocess

    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", str(source), str(tmp_path / name)], check=True)
    return [page.read_bytes() for page in sorted(tmp_path.glob(f"{name}-*.ppm"))]


def test_one_pass_with_erase_draws_the_same_pages_as_flatten_then_erase(invoice, sender, tmp_path):
    """Sealing flattens and erases the unfilled fields in one pass, into a file: the pages
    look exactly as when the values and the white covers were drawn in two passes."""
    from documents.flatten import erase_unfilled

    document = document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    fields = {field.key: field for field in document.fields.all()}
    values = [
        FlattenValue(field=fields["company-signature"], image=signature_png()),
        FlattenValue(field=fields["company-stamp"], image=signature_png(300, 300)),
        FlattenValue(field=fields["company-date"], text="27/11/2026"),
        FlattenValue(field=fields["client-signature"], text="Paul Martin"),
    ]
    two_passes = erase_unfilled(
        document=document, data=flatten_pdf(document=document, values=values), values=values
    )
    into = io.BytesIO()
    assert flatten_pdf(document=document, values=values, erase=True, into=into) == b""
    one_pass = into.getvalue()
    assert len(PdfReader(io.BytesIO(one_pass)).pages) == len(
        PdfReader(io.BytesIO(two_passes)).pages
    )
    assert _pdftoppm(one_pass, tmp_path, "one") == _pdftoppm(two_passes, tmp_path, "two")
    # Something was erased: the unfilled mention's frame is gone from both.
    assert _pdftoppm(one_pass, tmp_path, "one") != _pdftoppm(
        flatten_pdf(document=document, values=values), tmp_path, "kept"
    )
