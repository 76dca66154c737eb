"""Turned and cropped pages: fields live in the page as displayed, and values land there.

Scanned landscape documents are often portrait pages with /Rotate 90; other files have a
MediaBox that does not start at 0, 0 or a CropBox smaller than the MediaBox. Field rectangles
are in display space (documents.models); every check below looks at the page the way pdfium
(and so the previews, the editor and a viewer) shows it.
"""

from __future__ import annotations

import io

import pytest
from PIL import ImageChops
from pypdf import PdfReader

from documents.flatten import FlattenValue, flatten_pdf
from documents.models import Field
from documents.previews import page_size, read_pdf
from documents.selectors import page_sizes
from documents.services import document_create_from_upload, field_create
from documents.uploads import check_pdf
from signflow.pdf import PageGeometry
from tests.documents.conftest import upload
from tests.documents.rotated_pdfs import CASE_IDS, CASES, Case, make_pdf, render_displayed
from tests.documents.test_flatten import signature_png

SCALE = 2.0


def changed_box(before, after):
    diff = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 40 else 0)
    return diff.getbbox()


def field_box_px(field: Field, display_height: float) -> tuple[float, float, float, float]:
    """The field's rectangle in a render of the displayed page (top-left origin, pixels)."""
    return (
        field.x * SCALE,
        (display_height - field.y - field.height) * SCALE,
        (field.x + field.width) * SCALE,
        (display_height - field.y) * SCALE,
    )


def assert_inside(changed, box, tolerance: float = 2.0) -> None:
    assert changed is not None, "nothing was drawn"
    left, top, right, bottom = changed
    assert left >= box[0] - tolerance, (changed, box)
    assert top >= box[1] - tolerance, (changed, box)
    assert right <= box[2] + tolerance, (changed, box)
    assert bottom <= box[3] + tolerance, (changed, box)


def create(sender, data: bytes, title: str = "Scan"):
    return document_create_from_upload(uploaded_file=upload(data), title=title, creator=sender)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_page_geometry_agrees_with_pdfium_and_round_trips(case: Case) -> None:
    checked = check_pdf(make_pdf(case, pages=2))
    for geometry in checked.pages:
        assert (geometry.width, geometry.height) == pytest.approx(case.display)
        # Display -> user -> display gives the point back, and agrees with the test's mapping.
        for x, y in [(0, 0), (10, 20), (case.display[0], case.display[1]), (123.4, 56.7)]:
            u, v = geometry.to_user().apply_on((x, y))
            assert geometry.to_display(u, v) == pytest.approx((x, y))
            assert case.to_display(u, v) == pytest.approx((x, y))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_default_fields_sit_inside_the_visible_page_near_its_visible_bottom(
    sender, case: Case
) -> None:
    document = create(sender, make_pdf(case, pages=2))
    width, height = case.display
    assert page_size(document=document, page=2) == pytest.approx((width, height))
    fields = {field.key: field for field in document.fields.all()}
    assert set(fields) == {"company-signature", "company-stamp", "client-signature"}
    for field in fields.values():
        assert field.page == 2
        assert field.x >= 0 and field.x + field.width <= width + 0.01
        assert field.y >= 0 and field.y + field.height <= height + 0.01
        assert field.y + field.height < height / 3, "not near the bottom of the displayed page"
    # Ours on the left, the client's on the right edge of the displayed page.
    assert fields["company-signature"].x < width / 4
    assert fields["client-signature"].x + fields["client-signature"].width > width * 3 / 4


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_flattened_signature_lands_inside_the_displayed_field(sender, case: Case) -> None:
    document = create(sender, make_pdf(case, pages=2))
    field = document.fields.get(key="client-signature")
    original = document.pdf.open("rb").read()
    flattened = flatten_pdf(
        document=document, values=[FlattenValue(field=field, image=signature_png())]
    )
    changed = changed_box(
        render_displayed(original, page=2, scale=SCALE),
        render_displayed(flattened, page=2, scale=SCALE),
    )
    assert_inside(changed, field_box_px(field, case.display[1]))
    # Upright as displayed: the 3:1 scribble is three times wider than high on screen.
    left, top, right, bottom = changed
    assert (right - left) / (bottom - top) == pytest.approx(3, rel=0.1)
    # Nothing moved on the page without values.
    assert changed_box(render_displayed(original), render_displayed(flattened)) is None


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_text_value_in_an_editor_placed_field_is_upright_in_its_box(sender, case: Case) -> None:
    document = create(sender, make_pdf(case))
    width, height = case.display
    # What the editor sends: a rectangle on the displayed page, near its top-right corner.
    field = field_create(
        document=document,
        kind=Field.Kind.TEXT,
        role=Field.Role.CLIENT,
        page=1,
        x=width - 230,
        y=height - 70,
        width=200,
        height=24,
    )
    original = document.pdf.open("rb").read()
    flattened = flatten_pdf(document=document, values=[FlattenValue(field=field, text="WWWWWWWW")])
    changed = changed_box(render_displayed(original), render_displayed(flattened))
    assert_inside(changed, field_box_px(field, height))
    left, top, right, bottom = changed
    assert right - left > 3 * (bottom - top), "the text is not written left to right on screen"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_field_outside_the_displayed_page_is_refused(sender, case: Case) -> None:
    from documents.errors import DocumentError

    document = create(sender, make_pdf(case))
    width, height = case.display
    with pytest.raises(DocumentError):
        field_create(
            document=document,
            kind=Field.Kind.TEXT,
            role=Field.Role.CLIENT,
            page=1,
            x=width - 50,
            y=10,
            width=100,
            height=20,
        )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_text_tags_become_fields_where_they_are_displayed(sender, case: Case) -> None:
    width, height = case.display
    tag_x, tag_y = 60.0, 150.0
    data = make_pdf(
        case, texts=[(40, height - 60, "Contrat"), (tag_x, tag_y, "{{signature:client}}")]
    )
    document = create(sender, data)
    field = document.fields.get(key="signature-client-1")
    # Anchored at the tag's displayed lower-left corner (Helvetica's descender is ~3 pt).
    assert field.x == pytest.approx(tag_x, abs=2)
    assert field.y == pytest.approx(tag_y, abs=4)
    assert field.width >= 150 and field.height >= 60
    assert field.x + field.width <= width and field.y + field.height <= height
    # The tag is hidden where it was displayed; the rest of the page is unchanged.
    stored = render_displayed(document.pdf.open("rb").read(), scale=SCALE)
    before = render_displayed(data, scale=SCALE)
    box = (
        int(tag_x * SCALE),
        int((height - tag_y - 8) * SCALE),
        int((tag_x + 80) * SCALE),
        int((height - tag_y) * SCALE),
    )
    assert before.crop(box).convert("L").getextrema()[0] < 128
    assert stored.crop(box).convert("L").getextrema()[0] > 250
    # The title (baseline 60 pt below the displayed top) is still there.
    title = (int(40 * SCALE), int(50 * SCALE), int(90 * SCALE), int(61 * SCALE))
    assert stored.crop(title).convert("L").getextrema()[0] < 128


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_editor_and_signer_page_sizes_are_the_displayed_sizes(sender, case: Case) -> None:
    document = create(sender, make_pdf(case, pages=2))
    assert page_sizes(document) == [pytest.approx(case.display)] * 2
    # The pypdf view of the same pages (flattening, text tags, the stripe) agrees.
    reader = PdfReader(io.BytesIO(read_pdf(document)))
    geometries = [PageGeometry.of(page) for page in reader.pages]
    assert [geometry.size for geometry in geometries] == [pytest.approx(case.display)] * 2


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_uploaded_pages_keep_their_boxes_and_rotation(sender, case: Case) -> None:
    # Uploads are rewritten without active content (documents.sanitize), never normalised:
    # each page keeps its MediaBox, CropBox and /Rotate as they were.
    def boxes(data: bytes) -> list[tuple[list[float], list[float], int]]:
        return [
            (
                [float(v) for v in page.mediabox],
                [float(v) for v in page.cropbox],
                int(page.get("/Rotate", 0)),
            )
            for page in PdfReader(io.BytesIO(data)).pages
        ]

    data = make_pdf(case, pages=2)
    document = create(sender, data)
    assert boxes(document.pdf.open("rb").read()) == boxes(data)


def test_geometry_of_odd_rotations_follows_pdfium() -> None:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, NumberObject

    writer = PdfWriter()
    for rotate in (-90, 450, 45):
        page = writer.add_blank_page(width=300, height=200)
        page[NameObject("/Rotate")] = NumberObject(rotate)
    import io

    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    checked = check_pdf(data)  # refused if pdfium saw other sizes
    reader = PdfReader(io.BytesIO(data))
    assert [PageGeometry.of(page).rotation for page in reader.pages] == [270, 90, 0]
    assert [(page.width, page.height) for page in checked.pages] == [
        (200, 300),
        (200, 300),
        (300, 200),
    ]
