"""Checks on uploaded files, and images turned into a one-page PDF.

Everything here treats the upload as hostile: it is identified by its bytes (not its name or the
browser's content type), size and page limits come from settings, an image's pixel count is
checked before it is decoded, and a PDF must open in both pypdf and pdfium, unencrypted.
"""

import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps
from pypdf import PasswordType, PdfReader

from documents.errors import DocumentError
from documents.sanitize import sanitize_pdf
from signflow import pdfguard
from signflow.pdf import PageGeometry

logger = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
A4_WIDTH_PT = 595.28
A4_HEIGHT_PT = 841.89
OFFICE_EXTENSIONS = (".doc", ".docx", ".odt", ".rtf")
# The smallest page side accepted: below it, a signature field (150 × 60 pt) does not fit.
MIN_PAGE_SIDE_PT = 200
# What office files start with: ZIP (docx, odt), OLE compound file (doc), RTF.
OFFICE_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"{\\rtf")


@dataclass
class CheckedPdf:
    data: bytes
    page_count: int
    # The geometry of each page: display size, visible box and rotation (see PageGeometry).
    pages: list[PageGeometry]
    # What documents.sanitize took out of the upload (stable keys -> counts, file names).
    removed: dict[str, Any] = field(default_factory=dict)


def max_bytes() -> int:
    return settings.SIGNFLOW_UPLOAD_MAX_BYTES


def max_pages() -> int:
    return settings.SIGNFLOW_UPLOAD_MAX_PAGES


def max_pixels() -> int:
    return settings.SIGNFLOW_UPLOAD_MAX_PIXELS


def read_upload(uploaded_file: UploadedFile) -> bytes:
    limit = max_bytes()
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise DocumentError(
            _("The file is too large (%(size)s). The limit is %(limit)s.")
            % {"size": filesizeformat(uploaded_file.size), "limit": filesizeformat(limit)}
        )
    uploaded_file.seek(0)
    data = uploaded_file.read(limit + 1)
    if not data:
        raise DocumentError(_("The file is empty. Choose a PDF, PNG or JPEG file."))
    if len(data) > limit:
        raise DocumentError(
            _("The file is too large. The limit is %(limit)s.") % {"limit": filesizeformat(limit)}
        )
    return data


def _unreadable() -> str:
    return _(
        "This PDF file is damaged or incomplete and cannot be read. "
        "Export it again from the original application and upload the new file."
    )


# Parsed in a bounded child process: a page can inflate to gigabytes (signflow.pdfguard).
@pdfguard.guarded(error=DocumentError)
def check_pdf(data: bytes) -> CheckedPdf:
    """A real, complete PDF within the limits, rewritten without active content (see
    documents.sanitize), or DocumentError. Encryption with an empty user password (an owner
    password only: any viewer opens the file) is removed; a user password is refused."""
    if b"%PDF-" not in data[:1024]:
        raise DocumentError(_("This file is not a PDF document, whatever its name says."))
    # A file cut short (interrupted download) loses its end-of-file marker. One followed by
    # more than 4 KB (padding, a mail gateway's trailer) is fine when pypdf and pdfium both
    # open the file below: it is rewritten cleanly.
    if b"%%EOF" not in data[-4096:] and b"%%EOF" not in data:
        raise DocumentError(_unreadable())
    pages = _pages_of(_open_reader(data))
    _check_pdfium_agrees(data, pages)
    _check_page_sides(pages)
    sanitized = sanitize_pdf(data, max_pages=max_pages())
    return CheckedPdf(
        data=sanitized.data, page_count=len(pages), pages=pages, removed=sanitized.removed
    )


def _open_reader(data: bytes) -> PdfReader:
    """pypdf's reader of the file, decrypted when only an owner password is set."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        if encrypted:
            # An empty user password opens it: only an owner password (permissions) is set.
            encrypted = reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except Exception as exc:
        logger.info("pypdf refused an upload: %s", exc)
        raise DocumentError(_unreadable()) from exc
    if encrypted:
        raise DocumentError(
            _(
                "This PDF is protected by a password or encrypted. Remove the protection "
                "(print it to a new PDF, for instance) and upload it again."
            )
        )
    return reader


def _pages_of(reader: PdfReader) -> list[PageGeometry]:
    """Every page as displayed, within the page count limit and of a sane size."""
    try:
        page_count = len(reader.pages)
    except Exception as exc:
        logger.info("pypdf could not read the pages of an upload: %s", exc)
        raise DocumentError(_unreadable()) from exc
    if page_count == 0:
        raise DocumentError(_("This PDF has no pages."))
    if page_count > max_pages():
        raise DocumentError(
            _("This PDF has %(count)d pages; the limit is %(limit)d.")
            % {"count": page_count, "limit": max_pages()}
        )
    try:
        pages = [PageGeometry.of(page) for page in reader.pages]
    except Exception as exc:
        logger.info("pypdf could not read the pages of an upload: %s", exc)
        raise DocumentError(_unreadable()) from exc
    if any(
        page.width < 1 or page.height < 1 or page.width > 14400 or page.height > 14400
        for page in pages
    ):
        raise DocumentError(_unreadable())
    return pages


def _check_pdfium_agrees(data: bytes, pages: list[PageGeometry]) -> None:
    """The previews and the flattening use pdfium: it must agree that the file is sound.
    Field rectangles are in the page as displayed: pdfium (previews, editor) and PageGeometry
    (defaults, text tags, flattening) must see the same page, or the file is refused."""
    try:
        pdf = pdfium.PdfDocument(data)
        try:
            pdfium_sizes = [pdf.get_page_size(index) for index in range(len(pdf))]
        finally:
            pdf.close()
    except pdfium.PdfiumError as exc:
        logger.info("pdfium refused an upload: %s", exc)
        raise DocumentError(_unreadable()) from exc
    if len(pdfium_sizes) != len(pages):
        raise DocumentError(_unreadable())
    if any(
        abs(width - page.width) > 0.5 or abs(height - page.height) > 0.5
        for (width, height), page in zip(pdfium_sizes, pages, strict=True)
    ):
        logger.info("pdfium and pypdf disagree on the page sizes of an upload")
        raise DocumentError(_unreadable())


def _check_page_sides(pages: list[PageGeometry]) -> None:
    for number, page in enumerate(pages, start=1):
        if page.width < MIN_PAGE_SIDE_PT or page.height < MIN_PAGE_SIDE_PT:
            raise DocumentError(
                _(
                    "Page %(page)d is too small (%(width)d × %(height)d points): fields cannot "
                    "be placed on it. Each page must measure at least %(min)d points (about "
                    "7 cm) on each side."
                )
                % {
                    "page": number,
                    "width": round(page.width),
                    "height": round(page.height),
                    "min": MIN_PAGE_SIDE_PT,
                }
            )


def image_to_pdf(data: bytes) -> bytes:
    """A PNG or JPEG within the pixel limit, as a one-page PDF no larger than A4."""
    too_big = _(
        "This image is too large (%(width)d × %(height)d pixels). "
        "Reduce it below %(limit)s million pixels and upload it again."
    )
    unreadable = _("This image is damaged or incomplete and cannot be read.")
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentError(
            _("This image is too large. Reduce it below %(limit)s million pixels.")
            % {"limit": limit // 1_000_000}
        ) from exc
    except Exception as exc:
        raise DocumentError(unreadable) from exc
    if width * height > limit:
        raise DocumentError(
            too_big % {"width": width, "height": height, "limit": limit // 1_000_000}
        )
    if image.format not in ("PNG", "JPEG"):
        raise DocumentError(_("Only PDF, PNG and JPEG files can be uploaded."))
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            background = Image.new("RGB", image.size, "white")
            background.paste(image, mask=image.getchannel("A"))
            image = background
        elif image.mode != "RGB":
            image = image.convert("RGB")
    except Exception as exc:
        raise DocumentError(unreadable) from exc
    # Scale so the page fits in A4 (portrait or landscape) and is never below 72 dpi.
    dpi = max(72.0, width * 72 / A4_WIDTH_PT, height * 72 / A4_HEIGHT_PT)
    if width > height:
        dpi = max(72.0, width * 72 / A4_HEIGHT_PT, height * 72 / A4_WIDTH_PT)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=dpi)
    return out.getvalue()


def normalize_upload(*, uploaded_file: UploadedFile) -> CheckedPdf:
    """The uploaded file as a checked PDF (images converted), or DocumentError."""
    data = read_upload(uploaded_file)
    name = (uploaded_file.name or "").lower()
    if data.startswith(PNG_MAGIC) or data.startswith(JPEG_MAGIC):
        return check_pdf(image_to_pdf(data))
    if b"%PDF-" in data[:1024]:
        return check_pdf(data)
    if name.endswith(".pdf"):
        raise DocumentError(
            _("This file is named .pdf but is not a PDF document. Upload the real PDF file.")
        )
    if name.endswith(OFFICE_EXTENSIONS):
        if shutil.which("soffice") is None or not data.startswith(OFFICE_MAGIC):
            raise DocumentError(
                _(
                    "Word and OpenDocument files are not accepted yet: save the file as PDF and "
                    "upload it."
                )
            )
        return check_pdf(office_to_pdf(data, suffix=Path(name).suffix))
    raise DocumentError(_("Only PDF, PNG and JPEG files can be uploaded."))


def soffice_timeout() -> int:
    return settings.SIGNFLOW_SOFFICE_TIMEOUT


def office_to_pdf(data: bytes, *, suffix: str) -> bytes:
    """A DOC/DOCX/ODT/RTF file converted by LibreOffice, in a throw-away directory.

    LibreOffice runs headless with its own profile in that directory (a shared profile lets
    only one conversion run at a time) and in its own process group, so that a conversion
    that hangs is killed whole when the timeout expires.
    """
    soffice = shutil.which("soffice")
    if soffice is None:
        raise DocumentError(
            _(
                "Word and OpenDocument files are not accepted yet: save the file as PDF and upload it."
            )
        )
    failed = _("This file could not be converted to PDF. Save it as PDF and upload that file.")
    with tempfile.TemporaryDirectory(prefix="signflow-office-") as folder:
        workdir = Path(folder)
        source = workdir / f"upload{suffix}"
        source.write_bytes(data)
        command = [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(workdir),
            str(source),
        ]
        env = {"HOME": str(workdir), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _out, err = process.communicate(timeout=soffice_timeout())
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            logger.warning("LibreOffice took more than %ss to convert an upload", soffice_timeout())
            raise DocumentError(
                _("Converting this file to PDF took too long. Save it as PDF and upload that file.")
            ) from exc
        result = workdir / "upload.pdf"
        if process.returncode != 0 or not result.is_file():
            logger.warning("LibreOffice could not convert an upload: %.500s", err)
            raise DocumentError(failed)
        return result.read_bytes()
