"""What a downloaded file is called: named after the document, in the document's language.

`Content-Disposition` carries the name twice (RFC 6266): `filename=` in plain ASCII for old
clients, `filename*=UTF-8''…` with the accents for every current browser.
"""

import re
import unicodedata
from urllib.parse import quote

from django.http import FileResponse, HttpResponse
from django.utils import translation
from django.utils.translation import pgettext

from signing.models import Envelope

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')
_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9 ._()+,&'-]+")
MAX_NAME_CHARS = 150


def _clean(name: str) -> str:
    """No path separators, quotes or control characters; a bounded length; never empty."""
    name = " ".join(_UNSAFE.sub(" ", unicodedata.normalize("NFC", name)).split())
    name = name.strip(" .")[:MAX_NAME_CHARS].rstrip(" .")
    return name or "document"


def ascii_fallback(name: str) -> str:
    """`Facture F-1 - signée.pdf` -> `Facture F-1 - signee.pdf`."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    folded = " ".join(_NOT_ASCII_SAFE.sub("_", folded).split()).strip(" .")
    return folded or "document.pdf"


def content_disposition(filename: str, *, attachment: bool = True) -> str:
    stem, dot, extension = filename.rpartition(".")
    if not dot or not extension.isalnum():
        stem, extension = filename, ""
    name = _clean(stem) + (f".{extension}" if extension else "")
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def sealed_filename(envelope: Envelope) -> str:
    """`Facture F-2026-00001 - signée.pdf` for a French document, `… - signed.pdf` in English."""
    with translation.override(envelope.language):
        name = pgettext("download name", "%(title)s - signed") % {"title": envelope.title}
    return _clean(name) + ".pdf"


def unsigned_filename(envelope: Envelope) -> str:
    """The copy a signer downloads before signing says so in its name."""
    with translation.override(envelope.language):
        name = pgettext("download name", "%(title)s - not signed") % {"title": envelope.title}
    return _clean(name) + ".pdf"


def pdf_attachment(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(filename)
    return response


def sealed_download(envelope: Envelope) -> FileResponse:
    """The sealed PDF as an attachment, streamed in blocks from the storage (the file system or
    the private bucket: never a redirect to it). The caller checked access and `sealed`."""
    sealed = envelope.sealed
    if sealed is None or not sealed.file.name:
        raise ValueError(f"Envelope {envelope.pk} has no sealed document")
    handle = sealed.file.storage.open(sealed.file.name, "rb")
    response = FileResponse(handle, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(sealed_filename(envelope))
    return response
