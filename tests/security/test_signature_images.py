"""A signature image that announces 50 000 x 50 000 pixels (a decompression bomb: a few hundred
bytes that would decode to 10 GB) gets the same friendly answer whether it is drawn or
uploaded: the signing page again with a message, nothing stored, the signer still able to sign."""

import base64
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from documents.models import Document
from signing import images
from signing.models import Event, FieldValue, Party
from tests.security.conftest import World
from tests.signing.conftest import sign_with_code

pytestmark = pytest.mark.django_db


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid PNG header for a greyscale image of `width` x `height`, with one row of data:
    Pillow refuses it from the header alone (DecompressionBombError), before any decoding."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" + b"\xff" * 64))
        + _chunk(b"IEND", b"")
    )


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def _nothing_signed(world: World, media_before: list[Path], media_root: Path) -> None:
    world.party.refresh_from_db()
    assert world.party.status == Party.Status.ACTIVE
    assert not FieldValue.objects.filter(party=world.party).exists()
    assert not Event.objects.filter(envelope=world.envelope, type=Event.Type.SIGNED).exists()
    assert _stored_files(media_root) == media_before


def test_the_bomb_is_small_but_announces_two_and_a_half_billion_pixels() -> None:
    png = bomb_png()
    assert len(png) < 200
    with pytest.raises(images.ImageError):
        images.drawn_signature(_data_url(png))
    with pytest.raises(images.ImageError):
        images.uploaded_image(png, keep_colour=False)


def test_a_drawn_bomb_gets_a_friendly_error_and_nothing_is_saved(
    world: World, media_root: Path
) -> None:
    signer = Client()
    sign_with_code(signer, world.token, world.party.email)
    before = _stored_files(media_root)
    response = signer.post(
        f"/s/{world.token}/sign/",
        {
            "signature-method": "drawn",
            "signature-drawn": _data_url(bomb_png()),
            "consent": "1",
        },
        follow=True,
    )
    assert response.status_code == 400  # the form again, the message next to the signature
    assert "The drawing could not be read. Draw it again." in response.content.decode()
    _nothing_signed(world, before, media_root)


def test_an_uploaded_bomb_gets_a_friendly_error_and_nothing_is_saved(
    world: World, media_root: Path
) -> None:
    signer = Client()
    sign_with_code(signer, world.token, world.party.email)
    before = _stored_files(media_root)
    response = signer.post(
        f"/s/{world.token}/sign/",
        {
            "signature-method": "uploaded",
            "signature-file": SimpleUploadedFile("signature.png", bomb_png(), "image/png"),
            "consent": "1",
        },
        follow=True,
    )
    assert response.status_code == 400  # the form again, the message next to the signature
    assert "The image has too many pixels. Upload a smaller photo." in response.content.decode()
    _nothing_signed(world, before, media_root)


def test_after_the_bomb_the_signer_still_signs(world: World) -> None:
    signer = Client()
    sign_with_code(signer, world.token, world.party.email)
    signer.post(
        f"/s/{world.token}/sign/",
        {"signature-method": "drawn", "signature-drawn": _data_url(bomb_png()), "consent": "1"},
    )
    response = signer.post(
        f"/s/{world.token}/sign/",
        {"signature-method": "typed", "signature-typed": "Claire Dubois", "consent": "1"},
    )
    assert response.status_code == 302
    world.party.refresh_from_db()
    assert world.party.status == Party.Status.SIGNED
    assert Document.objects.filter(pk=world.document.pk).exists()


def test_a_french_signer_reads_the_error_in_french(world: World) -> None:
    world.envelope.language = "fr"
    world.envelope.save(update_fields=["language"])
    signer = Client()
    sign_with_code(signer, world.token, world.party.email)
    response = signer.post(
        f"/s/{world.token}/sign/",
        {"signature-method": "drawn", "signature-drawn": _data_url(bomb_png()), "consent": "1"},
        follow=True,
    )
    assert response.status_code == 400  # the form again, the message next to the signature
    assert "Le tracé n’a pas pu être lu. Tracez-le à nouveau." in response.content.decode()
