"""Our companies' stamps: uploaded once by a manager, offered to the director at every signature.

The upload goes through the same cleaning as a signer's stamp photo (signing.images): upright,
paper made transparent, colours kept, cropped to the ink. Only the cleaned PNG is stored, named
by its hash; a file that cannot be read leaves the company as it was.
"""

import hashlib
import mimetypes

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse

from crm.models import OwnCompany
from signing import images


def company_stamp_set(*, company: OwnCompany, data: bytes) -> OwnCompany:
    """Clean `data` and make it the company's stamp. images.ImageError when unreadable."""
    png = images.uploaded_image(data, keep_colour=True)  # raises before anything is written
    with transaction.atomic():
        company = OwnCompany.objects.select_for_update().get(pk=company.pk)
        previous = company.default_stamp.name if company.default_stamp else ""
        digest = hashlib.sha256(png).hexdigest()
        company.default_stamp.save(f"{digest}.png", ContentFile(png), save=False)
        company.save(update_fields=["default_stamp"])
    if previous and previous != company.default_stamp.name:
        _delete_file(company, previous)
    return company


def company_stamp_remove(*, company: OwnCompany) -> OwnCompany:
    with transaction.atomic():
        company = OwnCompany.objects.select_for_update().get(pk=company.pk)
        previous = company.default_stamp.name if company.default_stamp else ""
        company.default_stamp = ""
        company.save(update_fields=["default_stamp"])
    if previous:
        _delete_file(company, previous)
    return company


def company_client_stamp_set(*, company: OwnCompany, ask: bool) -> OwnCompany:
    company.ask_client_stamp = ask
    company.save(update_fields=["ask_client_stamp"])
    return company


def _delete_file(company: OwnCompany, name: str) -> None:
    # Another company may hold the same stamp file (files are named by hash).
    if not OwnCompany.objects.filter(default_stamp=name).exists():
        company.default_stamp.storage.delete(name)


def stamp_image_response(stamp: FieldFile) -> HttpResponse:
    """A stored stamp image for a page of ours (the storage is never public): never cached, never
    sniffed as anything but an image."""
    with stamp.open("rb") as fh:
        data = fh.read()
    content_type = mimetypes.guess_type(stamp.name or "")[0] or "image/png"
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
