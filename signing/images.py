"""Signature and stamp images: typed, drawn or uploaded, normalised to a transparent PNG."""

import base64
import binascii
import io
import struct
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from signflow.errors import SignFlowError
from signflow.text import clean_text

MAX_PIXELS = 24_000_000  # a 24 MP phone photo; a decode then costs ~100 MB at most
MAX_SIDE = 1200
FONT_PATH = Path(settings.BASE_DIR) / "static" / "fonts" / "DancingScript-Regular.otf"
# What Pillow raises on a file it cannot (or will not) decode. DecompressionBombError is not an
# OSError: a PNG header announcing 50 000 x 50 000 pixels raises it from Image.open itself.
UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)


class ImageError(SignFlowError):
    """A signature or stamp image that cannot be used (in the one error hierarchy)."""

    default_code = "image_invalid"

    def __init__(self, message: Any) -> None:
        super().__init__(None, message)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _crop_to_ink(image: Image.Image, *, margin: int = 8) -> Image.Image:
    bbox = image.getchannel("A").getbbox()
    if bbox is None:
        raise ImageError(_("The signature is empty. Draw, type or upload it again."))
    left, top, right, bottom = bbox
    return image.crop(
        (
            max(left - margin, 0),
            max(top - margin, 0),
            min(right + margin, image.width),
            min(bottom + margin, image.height),
        )
    )


def _shrink(image: Image.Image) -> Image.Image:
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def typed_signature(name: str) -> bytes:
    name = " ".join(clean_text(name).split())
    if not name:
        raise ImageError(_("Type your name to sign."))
    if len(name) > 80:
        raise ImageError(_("The typed name is too long (80 characters at most)."))
    font = ImageFont.truetype(str(FONT_PATH), 110)
    left, top, right, bottom = font.getbbox(name)
    image = Image.new("RGBA", (int(right - left) + 40, int(bottom - top) + 40), (255, 255, 255, 0))
    ImageDraw.Draw(image).text((20 - left, 20 - top), name, font=font, fill=(16, 32, 96, 255))
    return _png(_crop_to_ink(image))


def drawn_signature(data_url: str) -> bytes:
    """A PNG data URL from the signature pad."""
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise ImageError(_("Draw your signature in the box before signing."))
    if len(data_url) > max_bytes() * 4 // 3:
        raise ImageError(_("The drawing is too large."))
    try:
        raw = base64.b64decode(data_url[len(prefix) :], validate=True)
        with Image.open(io.BytesIO(raw)) as img:
            if img.format != "PNG" or img.width * img.height > MAX_PIXELS:
                raise ImageError(_("The drawing could not be read. Draw it again."))
            image = img.convert("RGBA")
    except (binascii.Error, *UNREADABLE) as exc:
        raise ImageError(_("The drawing could not be read. Draw it again.")) from exc
    return _png(_shrink(_crop_to_ink(image)))


def max_bytes() -> int:
    return settings.SIGNFLOW_IMAGE_MAX_BYTES


def too_large() -> ImageError:
    """The refusal of an image over the limit, the limit read from the settings."""
    return ImageError(
        _("The image is too large (%(size)s at most).") % {"size": filesizeformat(max_bytes())}
    )


def uploaded_image(data: bytes, *, keep_colour: bool) -> bytes:
    """A photo or scan of a signature or stamp: upright, background removed, cropped to the ink."""
    if not data:
        raise ImageError(_("The file is empty."))
    if len(data) > max_bytes():
        raise too_large()
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in {"PNG", "JPEG", "WEBP", "GIF"}:
                raise ImageError(_("Upload a PNG, JPEG or WebP image."))
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(_("The image has too many pixels. Upload a smaller photo."))
            # JPEG decodes straight to a reduced size: no need for 24 MP to crop a signature.
            img.draft("RGB", (MAX_SIDE * 2, MAX_SIDE * 2))
            img.load()
            image = ImageOps.exif_transpose(img).convert("RGBA")
    except Image.DecompressionBombError as exc:
        raise ImageError(_("The image has too many pixels. Upload a smaller photo.")) from exc
    except UNREADABLE as exc:
        raise ImageError(_("This file is not an image we can read. Upload a PNG or JPEG.")) from exc
    image = _shrink(image)
    # Paper becomes transparent: alpha follows how far a pixel is from white, so anti-aliased
    # ink edges stay smooth. A signature is recoloured to dark ink, a stamp keeps its colours.
    r, g, b, a = image.split()
    lightest_ink = ImageChops.darker(ImageChops.darker(r, g), b)
    alpha = lightest_ink.point(lambda v: 0 if 255 - v < 40 else min(255, (215 - v) * 255 // 140))
    alpha = ImageChops.multiply(alpha, a)
    if keep_colour:
        image = Image.merge("RGBA", (r, g, b, alpha))
    else:
        ink = Image.new("RGBA", image.size, (16, 32, 96, 255))
        ink.putalpha(alpha)
        image = ink
    return _png(_crop_to_ink(image))


# Ink fitted into a field's box: the stored image has the box's aspect ratio, the ink trimmed,
# scaled to fill it up to a margin on every side, and centred, so a drawing made on a pad of
# another shape is neither squashed nor touching the edge once drawn onto the page.
FIT_PX_PER_PT = 4  # ~290 dpi on paper: sharp when printed, small enough to store
FIT_MARGIN = 0.08  # of the box's shorter side, on every side


def fit_to_box(png: bytes, *, width: float, height: float) -> bytes:
    """A transparent PNG with the aspect ratio of a width x height box (PDF points)."""
    if width <= 0 or height <= 0:
        raise ValueError("A field box has a positive size")
    try:
        with Image.open(io.BytesIO(png)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(_("The image has too many pixels. Upload a smaller photo."))
            image = img.convert("RGBA")
    except UNREADABLE as exc:
        raise ImageError(_("The drawing could not be read. Draw it again.")) from exc
    ink = _crop_to_ink(image, margin=0)
    scale = min(FIT_PX_PER_PT, MAX_SIDE / max(width, height))
    box_w, box_h = max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)
    margin = int(round(min(box_w, box_h) * FIT_MARGIN))
    room_w, room_h = max(box_w - 2 * margin, 1), max(box_h - 2 * margin, 1)
    factor = min(room_w / ink.width, room_h / ink.height)
    size = (max(int(round(ink.width * factor)), 1), max(int(round(ink.height * factor)), 1))
    ink = ink.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (box_w, box_h), (255, 255, 255, 0))
    canvas.alpha_composite(ink, ((box_w - size[0]) // 2, (box_h - size[1]) // 2))
    return _png(canvas)
