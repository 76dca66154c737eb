"""Signature and stamp images: typed, drawn or uploaded, normalised to a transparent PNG."""

import base64
import io

import pytest
from PIL import Image, ImageDraw

from signing import images


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGBA")


def test_a_typed_name_becomes_a_handwritten_signature_cropped_to_the_ink():
    image = _png(images.typed_signature("Claire Dubois"))
    assert image.width > image.height > 20
    alpha = image.getchannel("A")
    assert alpha.getextrema() == (0, 255)


def test_a_photo_is_turned_upright_its_paper_made_transparent_and_cropped():
    # A landscape photo of a signature, stored sideways with EXIF orientation 6 (rotate 90° CW).
    photo = Image.new("RGB", (400, 1000), (245, 243, 238))
    ImageDraw.Draw(photo).line([(200, 300), (210, 700)], fill=(20, 20, 30), width=12)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    image = _png(images.uploaded_image(buffer.getvalue(), keep_colour=False))
    # Upright: the vertical stroke in the stored pixels is horizontal once turned.
    assert image.width > image.height
    # Cropped to the ink (plus a margin), paper transparent.
    assert image.width < 600
    corner = image.getpixel((0, 0))
    assert corner[3] == 0


def test_a_stamp_keeps_its_colour():
    stamp = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(stamp).ellipse((20, 20, 180, 180), outline=(30, 60, 200), width=10)
    buffer = io.BytesIO()
    stamp.save(buffer, format="PNG")
    image = _png(images.uploaded_image(buffer.getvalue(), keep_colour=True))
    r, g, b, a = max(
        (image.getpixel((x, image.height // 2)) for x in range(image.width)), key=lambda p: p[3]
    )
    assert a == 255 and b > r and b > g


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not an image at all", "not an image"),
        (b"%PDF-1.7 fake", "not an image"),
    ],
)
def test_bad_uploads_get_a_clear_message(data: bytes, message: str):
    with pytest.raises(images.ImageError) as exc:
        images.uploaded_image(data, keep_colour=False)
    assert message in exc.value.message


def test_a_blank_drawing_is_refused():
    blank = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    buffer = io.BytesIO()
    blank.save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    with pytest.raises(images.ImageError) as exc:
        images.drawn_signature(url)
    assert "empty" in exc.value.message
