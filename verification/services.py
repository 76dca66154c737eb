"""Sealing and verification: the only entry points other apps call.

`seal_pdf` turns the flattened PDF of a completed envelope into a sealed, timestamped PDF with
its certificate of completion and registers it; `verify_pdf` says whether a file is one of ours.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, cast

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from signflow import pdfguard
from signflow.storage import save_once
from verification import digests, explaining, keys, pades
from verification.certificate import (
    RenderedCertificate,
    certificate_html,
    level_statement,
    write_certificate_pdf,
)
from verification.models import SealedDocument
from verification.record import build_record
from verification.stamping import INFO_CODE_KEY, STRIPE_RE, display_size, stamp_into

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
# Past this size a sealing step collects pypdf's object graph before the next step starts.
LARGE_FILE = 4 * 1024 * 1024
CODE_RE = re.compile(r"^[A-Z0-9]{6,32}$")

VERDICT_AUTHENTIC = "authentic"
VERDICT_MODIFIED = "modified"
VERDICT_UNKNOWN = "unknown"


class SealingError(Exception):
    """What stopped a seal: which part failed (`kind`), a stable `code`, a message for a person.

    `permanent` errors (a document that cannot be certified, an unusable seal key) will fail
    the same way on every retry: the caller stops and tells the sender. Temporary ones (the
    TSA or the storage unreachable) are retried with backoff. `detail` is the technical cause,
    for the logs and the administrator.
    """

    INPUT = "input"  # the document itself: unreadable, already certified, flattening failed
    SIGNER = "signer"  # the seal key or certificate
    TSA = "tsa"  # the timestamp authority: unreachable or a bad answer
    STORAGE = "storage"  # reading or writing files

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in SEALING_ERRORS:  # a bare message from older callers
            code, detail = "seal_failed", detail or code
        kind, permanent, _message = SEALING_ERRORS[code]
        self.code = code
        self.kind = kind
        self.permanent = permanent
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def message(self) -> str:
        return str(SEALING_ERRORS[self.code][2])


# code -> (kind, permanent, message). Codes are stable: they are stored on envelopes and events.
SEALING_ERRORS: dict[str, tuple[str, bool, Any]] = {
    "input_invalid_code": (
        SealingError.INPUT,
        True,
        gettext_lazy("The document has no valid SignFlow code."),
    ),
    "input_unreadable": (
        SealingError.INPUT,
        True,
        gettext_lazy("The document cannot be read as a PDF."),
    ),
    "input_already_signed": (
        SealingError.INPUT,
        True,
        gettext_lazy(
            "The document already carries a signature that forbids any change: it cannot be "
            "certified."
        ),
    ),
    "input_flatten_failed": (
        SealingError.INPUT,
        True,
        gettext_lazy("The signed values could not be drawn onto the document."),
    ),
    "input_prepare_failed": (
        SealingError.INPUT,
        True,
        gettext_lazy("The certificate of completion could not be added to the document."),
    ),
    "signer_keys": (
        SealingError.SIGNER,
        True,
        gettext_lazy("The seal certificate or its key could not be loaded."),
    ),
    "signer_failed": (
        SealingError.SIGNER,
        True,
        gettext_lazy("The seal certificate or its key could not sign the document."),
    ),
    "tsa_unreachable": (
        SealingError.TSA,
        False,
        gettext_lazy("The timestamp authority could not be reached or answered with an error."),
    ),
    "tsa_bad_answer": (
        SealingError.TSA,
        False,
        gettext_lazy("The timestamp authority did not return a valid timestamp."),
    ),
    "storage_failed": (
        SealingError.STORAGE,
        False,
        gettext_lazy("The file storage could not be read or written."),
    ),
    "seal_failed": (
        SealingError.SIGNER,
        False,
        gettext_lazy("The document could not be sealed."),
    ),
}


def verification_url(code: str) -> str:
    return f"{settings.SIGNFLOW_BASE_URL}/verify/{code}/"


def sealed_path(sha256: str) -> str:
    return f"sealed/{sha256}.pdf"


# --- sealing -------------------------------------------------------------------------------------


def prepared_path(sha256: str) -> str:
    return f"sealing/prepared/{sha256}.pdf"


@dataclass(frozen=True)
class PreparedSeal:
    """A document striped and given its certificate of completion, stored by hash, not signed yet.

    Kept by the caller between attempts (as_dict / from_dict) so that a retry after a TSA
    failure signs the same bytes instead of flattening and rendering everything again.
    """

    code: str
    sha256: str
    sealed_at: str  # ISO 8601: the time printed on the certificate
    tsa_name: str  # the TSA named on the certificate
    seal_box: tuple[int, int, int, int, int] | None
    reason: str
    location: str
    stamp_text: str
    metadata: dict

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "sha256": self.sha256,
            "sealed_at": self.sealed_at,
            "tsa_name": self.tsa_name,
            "seal_box": list(self.seal_box) if self.seal_box else None,
            "reason": self.reason,
            "location": self.location,
            "stamp_text": self.stamp_text,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreparedSeal:
        box = data.get("seal_box")
        return cls(
            code=str(data["code"]),
            sha256=str(data["sha256"]),
            sealed_at=str(data["sealed_at"]),
            tsa_name=str(data["tsa_name"]),
            seal_box=(int(box[0]), int(box[1]), int(box[2]), int(box[3]), int(box[4]))
            if box
            else None,
            reason=str(data["reason"]),
            location=str(data["location"]),
            stamp_text=str(data["stamp_text"]),
            metadata=dict(data["metadata"]),
        )


def load_prepared(data: dict[str, Any] | None) -> PreparedSeal | None:
    """The stored preparation if it can still be signed as is, else None (prepare again)."""
    if not data:
        return None
    try:
        prepared = PreparedSeal.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None
    # The certificate names the TSA: a changed TSA_URL needs a new certificate page.
    if prepared.tsa_name != pades.tsa_display_name():
        return None
    try:
        if not default_storage.exists(prepared_path(prepared.sha256)):
            return None
    except OSError as exc:
        raise SealingError("storage_failed", str(exc)) from exc
    return prepared


def discard_prepared(prepared: PreparedSeal) -> None:
    """Remove the intermediate file once the sealed document is registered."""
    try:
        default_storage.delete(prepared_path(prepared.sha256))
    except OSError:  # only disk space is at stake
        logger.warning("Could not delete the prepared file of %s", prepared.code, exc_info=True)


def prepare_seal(*, pdf_bytes: bytes | IO[bytes], metadata: dict) -> PreparedSeal:
    """Stripe every page and append the certificate of completion; store the result by hash.

    `pdf_bytes` may be an open file: the document is read once, by pypdf, and the striped
    copy goes through a temporary file to the storage, so a large one is not held whole.
    """
    code = str(metadata.get("code") or "")
    if not CODE_RE.match(code):
        raise SealingError("input_invalid_code", f"Invalid document code {code!r}")
    url = verification_url(code)
    tsa_name = pades.tsa_display_name()
    sealed_at = timezone.now()
    with translation.override(metadata.get("language") or settings.LANGUAGE_CODE):
        wording = _SealWording.of(metadata, code=code, url=url)
    source = _as_stream(pdf_bytes)
    # The signed document as flattened, before the stripe, the certificate and the seal.
    signed_sha256, _size = hash_stream(source)
    with tempfile.TemporaryFile(prefix="signflow-prepared-") as stamped:
        try:
            base_pages, certificate = _stamp(
                source, stamped, metadata, wording, url, sealed_at, tsa_name, signed_sha256
            )
        except Exception as exc:
            logger.exception("Preparing document %s for sealing failed", code)
            raise SealingError(
                "input_prepare_failed", f"Could not prepare the document for sealing: {exc}"
            ) from exc
        sha, size = hash_stream(stamped)
        if size > LARGE_FILE:
            gc.collect()  # pypdf's object graph of a large file: freed before pyHanko reads it
        _store_once(prepared_path(sha), stamped)
    seal_box = None
    if certificate.seal_box is not None:
        index, x1, y1, x2, y2 = certificate.seal_box
        seal_box = (base_pages + index, x1, y1, x2, y2)
    return PreparedSeal(
        code=code,
        sha256=sha,
        sealed_at=sealed_at.isoformat(),
        tsa_name=tsa_name,
        seal_box=seal_box,
        reason=wording.reason,
        location=wording.location,
        stamp_text=wording.stamp_text,
        # The images are drawn on the certificate now: a retry needs only their hashes.
        metadata={**_without_images(metadata), "signed_sha256": signed_sha256},
    )


def _stamp(
    source: IO[bytes],
    into: IO[bytes],
    metadata: dict,
    wording: _SealWording,
    url: str,
    sealed_at: dt.datetime,
    tsa_name: str,
    signed_sha256: str,
) -> tuple[int, RenderedCertificate]:
    """Render the certificate for the document open in `source`, write the striped document
    with it to `into`; the document's page count and the certificate."""
    import pikepdf

    from signflow.pdf import PikePage

    source.seek(0)
    with pikepdf.open(cast(BinaryIO, source)) as pdf:
        pages = len(pdf.pages)
        certificate = write_certificate_pdf(
            certificate_html(
                metadata=metadata,
                verify_url=url,
                sealed_at=sealed_at,
                tsa_name=tsa_name,
                page_size=display_size(PikePage(pdf.pages[0])) if pages else None,
                signed_sha256=signed_sha256,
            )
        )
        language = metadata.get("language") or settings.LANGUAGE_CODE
        with translation.override(language):
            record_json = build_record(
                metadata=metadata,
                verify_url=url,
                sealed_at=sealed_at,
                tsa_name=tsa_name,
                signed_sha256=signed_sha256,
                level=level_statement(),
            )
        stamp_into(
            pdf=pdf,
            into=into,
            stripe_text=wording.stripe,
            code=str(metadata.get("code") or ""),
            title=str(metadata.get("title") or ""),
            certificate_pdf=certificate.pdf,
            record_json=record_json,
            moment=sealed_at,
        )
    return pages, certificate


@dataclass(frozen=True)
class _SealWording:
    """The seal's words, in the document's language (translation active when built)."""

    stripe: str
    reason: str
    stamp_text: str
    location: str

    @classmethod
    def of(cls, metadata: dict, *, code: str, url: str) -> _SealWording:
        sender = metadata.get("sender") or {}
        return cls(
            # "SignFlow <code>" stays first and untranslated: verification looks for it.
            stripe=_("SignFlow %(code)s · Verify this document at %(url)s")
            % {"code": code, "url": url},
            reason=_("Sealed by SignFlow after every party signed (document %(code)s)")
            % {"code": code},
            stamp_text=_("Sealed by SignFlow") + f" - {code}",
            location=str(sender.get("company") or "") or "SignFlow",
        )


def _without_images(metadata: dict) -> dict:
    parties = []
    for party in metadata.get("parties") or []:
        if isinstance(party, dict) and party.get("images"):
            images = [
                {k: v for k, v in image.items() if k != "data_uri"}
                for image in party["images"]
                if isinstance(image, dict)
            ]
            party = {**party, "images": images}
        parties.append(party)
    return {**metadata, "parties": parties}


# pyHanko refuses to certify a document that is already signed or certified: no retry helps.
_INPUT_SIGNING_ERRORS = ("Certification signatures must be the first", "forbids all changes")


def _already_signed(pdf: IO[bytes]) -> bool:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        pdf.seek(0)
        reader = PdfFileReader(pdf, strict=False)
        return bool(list(reader.embedded_signatures))
    except Exception:  # unreadable: classified as such by the caller
        return False


def _raised_in_timestamp_client(exc: BaseException) -> bool:
    """Whether pyHanko's timestamp client (parsing or checking the TSA's answer) raised it."""
    tb = exc.__traceback__
    while tb is not None:
        if "pyhanko/sign/timestamps/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False


def _classify_signing_failure(exc: Exception, *, tsa_name: str, pdf: IO[bytes]) -> SealingError:
    """Say which part of pyHanko's work failed: the TSA, the document or the seal key."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    token_reason = keys.token_failure(exc)
    if token_reason is not None:  # the token went away or refused: the key, not the document
        return SealingError("signer_keys", token_reason)
    detail = f"{type(exc).__name__}: {exc} (TSA: {tsa_name})"
    cause = exc.__cause__
    if isinstance(exc, TimestampRequestError) and type(cause).__name__ == "ContentTypeError":
        return SealingError("tsa_bad_answer", f"{detail}: {cause}")
    if (isinstance(exc, OSError) and not isinstance(exc, TimestampRequestError)) or (
        isinstance(exc, TimestampRequestError)
        and (isinstance(cause, OSError) or type(cause).__module__.startswith("aiohttp"))
    ):
        # No connection, a timeout or an HTTP error status (pyHanko's aiohttp client wraps
        # them); the TSA is the only network call made while signing.
        return SealingError("tsa_unreachable", f"{detail}: {cause}" if cause else detail)
    if isinstance(exc, TimestampRequestError) or _raised_in_timestamp_client(exc):
        # An answer came back, but not a timestamp: refused, wrong type, unparsable.
        return SealingError("tsa_bad_answer", detail)
    if isinstance(exc, SigningError) and (
        any(s in str(exc) for s in _INPUT_SIGNING_ERRORS) or _already_signed(pdf)
    ):
        # A document that arrives signed or certified cannot take our certification.
        return SealingError("input_already_signed", detail)
    if isinstance(exc, PdfError):
        return SealingError("input_unreadable", detail)
    return SealingError("signer_failed", detail)


def seal_prepared(*, prepared: PreparedSeal) -> SealedDocument:
    """Certify the prepared document with a timestamp and register it.

    Idempotent on the code: a retried task gets the document sealed the first time.
    """
    existing = SealedDocument.objects.filter(code=prepared.code).first()
    if existing is not None:
        return existing
    try:
        material = keys.get_key_material()
    except keys.KeysError as exc:
        raise SealingError("signer_keys", str(exc)) from exc
    # pyHanko reads the prepared file and writes the sealed one to disk: hashed and stored
    # from there, neither is held in memory whole.
    with tempfile.TemporaryDirectory(prefix="signflow-seal-") as work:
        target = os.path.join(work, "sealed.pdf")
        try:
            stamped = default_storage.open(prepared_path(prepared.sha256), "rb")
        except OSError as exc:
            raise SealingError("storage_failed", str(exc)) from exc
        with stamped:
            output = _sign_prepared(prepared, material, stamped, target)
        with open(target, "rb") as sealed:
            return _register(
                code=prepared.code,
                data=sealed,
                metadata=prepared.metadata,
                sealed_at=dt.datetime.fromisoformat(prepared.sealed_at),
                output=output,
                material=material,
            )


def _sign_prepared(
    prepared: PreparedSeal, material: keys.KeyMaterial, stamped: IO[bytes], target: str
) -> pades.SealOutput:
    try:
        output = pades.sign(
            pdf_bytes=stamped,
            material=material,
            reason=prepared.reason,
            location=prepared.location,
            stamp_text=prepared.stamp_text,
            seal_box=prepared.seal_box,
            output_path=target,
        )
    except Exception as exc:
        error = _classify_signing_failure(exc, tsa_name=prepared.tsa_name, pdf=stamped)
        logger.warning("Sealing document %s failed: %s", prepared.code, error)
        raise error from exc
    if not output.timestamp_token:
        raise SealingError(
            "tsa_bad_answer", f"The TSA ({prepared.tsa_name}) returned no timestamp token."
        )
    return output


def seal_pdf(*, pdf_bytes: bytes, metadata: dict) -> SealedDocument:
    """Stripe every page, append the certificate, certify with a timestamp, register.

    Idempotent on metadata["code"]: a retried task gets the document sealed the first time.
    Any failure raises SealingError; nothing unsealed is ever registered.
    """
    code = str(metadata.get("code") or "")
    if not CODE_RE.match(code):
        raise SealingError("input_invalid_code", f"Invalid document code {code!r}")
    existing = SealedDocument.objects.filter(code=code).first()
    if existing is not None:
        return existing
    prepared = prepare_seal(pdf_bytes=pdf_bytes, metadata=metadata)
    try:
        return seal_prepared(prepared=prepared)
    finally:
        discard_prepared(prepared)


def _store_once(path: str, data: bytes | IO[bytes]) -> None:
    """Files are addressed by hash and never overwritten: the same bytes may already be there."""
    try:
        save_once(path, data)
    except OSError as exc:
        raise SealingError("storage_failed", str(exc)) from exc


def _register(
    *,
    code: str,
    data: IO[bytes],
    metadata: dict,
    sealed_at: Any,
    output: pades.SealOutput,
    material: keys.KeyMaterial,
) -> SealedDocument:
    sha, size = hash_stream(data)
    path = sealed_path(sha)
    _store_once(path, data)
    keys.record_sealing_key(material)
    stored_metadata = {
        # The images are in the sealed file; the registry keeps their hashes only.
        **_without_images(metadata),
        "verification_url": verification_url(code),
        "seal_certificate_sha256": keys.fingerprint(material.seal_cert),
        "root_certificate_sha256": (
            keys.fingerprint(material.seal_root) if material.seal_root is not None else ""
        ),
    }
    try:
        with transaction.atomic():
            return SealedDocument.objects.create(
                code=code,
                sha256=sha,
                size=size,
                file=path,
                original_sha256=str(metadata.get("original_sha256") or ""),
                sealed_at=sealed_at,
                timestamp_token=output.timestamp_token,
                timestamp_time=output.timestamp_time,
                tsa_name=output.tsa_name,
                metadata=stored_metadata,
            )
    except IntegrityError:
        # A concurrent retry of the same envelope sealed it first: theirs is the document.
        winner = SealedDocument.objects.filter(code=code).first()
        if winner is None:
            raise
        return winner


# --- verification --------------------------------------------------------------------------------


DISCLOSURE_RESTRICTED = "restricted"  # anyone holding a file: see verification.diffing
DISCLOSURE_FULL = "full"  # those entitled to the original: its sender's employees, its signers


@dataclass
class TextChange:
    page: int  # 1-based, in the uploaded file
    removed: str
    added: str
    original_page: int | None = None  # the page of the sealed original it was compared with


@dataclass
class RegionCrop:
    """One changed region, cut out of the original and of the upload (data: URIs)."""

    region: tuple[float, float, float, float]
    original_png: str
    submitted_png: str


@dataclass
class PageDiff:
    page: int  # 1-based, in the uploaded file
    # Changed regions in PDF points from the page's top-left corner: (x0, y0, x1, y1).
    regions: list[tuple[float, float, float, float]]
    original_png: str = ""  # whole pages, highlighted: full comparison only
    submitted_png: str = ""
    original_page: int | None = None
    crops: list[RegionCrop] = field(default_factory=list)  # restricted answers: regions only


@dataclass
class AddedAnnotation:
    """An annotation on a matching page of the upload that its original page does not have."""

    page: int  # 1-based, in the uploaded file
    kind: str  # the PDF subtype: FreeText, Stamp, Square...
    text: str  # its /Contents, from the upload, shortened


@dataclass
class Comparison:
    """What verification.diffing found, already cut to what may be disclosed."""

    full: bool
    original_page_count: int
    page_count: int
    page_diffs: list[PageDiff] = field(default_factory=list)
    text_changes: list[TextChange] = field(default_factory=list)
    matched: dict[int, int] = field(default_factory=dict)  # uploaded page -> original page
    unmatched_pages: list[int] = field(default_factory=list)  # uploaded pages matching none
    missing_pages: list[int] = field(default_factory=list)  # original pages matched by none
    added_annotations: list[AddedAnnotation] = field(default_factory=list)
    certificate_pages: list[int] = field(default_factory=list)  # of the original (public)


@dataclass
class VerificationResult:
    verdict: str
    sealed: SealedDocument | None = None
    code: str = ""
    sha256: str = ""
    size: int = 0
    reasons: list[str] = field(default_factory=list)  # machine codes, see REASONS
    signatures: list[pades.SignatureReport] = field(default_factory=list)
    page_diffs: list[PageDiff] = field(default_factory=list)
    text_changes: list[TextChange] = field(default_factory=list)
    page_count: int | None = None
    original_page_count: int | None = None  # set only when it may be disclosed
    error: str = ""  # "not_pdf" when the file cannot be read as a PDF
    disclosure: str = DISCLOSURE_RESTRICTED
    matched_pages: dict[int, int] = field(default_factory=dict)  # uploaded -> original page
    unmatched_pages: list[int] = field(default_factory=list)
    missing_pages: list[int] = field(default_factory=list)
    added_annotations: list[AddedAnnotation] = field(default_factory=list)
    certificate_pages: list[int] = field(default_factory=list)

    @property
    def seal(self) -> pades.SignatureReport | None:
        return next((s for s in self.signatures if s.ours), None)

    @property
    def appended(self) -> bool:
        return "appended" in self.reasons

    @property
    def not_the_sealed_document(self) -> bool:
        return "not_the_sealed_document" in self.reasons

    def apply_comparison(self, comparison: Comparison) -> None:
        """Take the comparison's findings and say what they mean in `reasons`."""
        self.page_count = comparison.page_count
        self.page_diffs = comparison.page_diffs
        self.text_changes = comparison.text_changes
        self.matched_pages = comparison.matched
        self.unmatched_pages = comparison.unmatched_pages
        self.missing_pages = comparison.missing_pages
        self.added_annotations = comparison.added_annotations
        self.certificate_pages = comparison.certificate_pages
        if not comparison.full and not comparison.matched:
            # Not even the page count of the original is told to a file that only carries
            # its code.
            self.reasons.append("not_the_sealed_document")
            return
        self.original_page_count = comparison.original_page_count
        if comparison.original_page_count != comparison.page_count:
            self.reasons.append("page_count_differs")
        if comparison.missing_pages:
            self.reasons.append("pages_missing")
        if comparison.unmatched_pages:
            self.reasons.append("pages_unmatched")
        if self.page_diffs or self.text_changes or self.missing_pages or self.unmatched_pages:
            self.reasons.append("pages_differ")
        else:
            self.reasons.append("no_visible_change")


def reason_messages() -> dict[str, str]:
    return {
        "appended": _("Content was appended after the seal."),
        "bytes_changed": _("The sealed bytes were changed: the seal no longer matches."),
        "not_registered": _("This exact file was never sealed by SignFlow."),
        "signature_missing": _("The SignFlow seal is missing from this file."),
        "signature_untrusted": _("The seal does not chain to the SignFlow root certificate."),
        "timestamp_invalid": _("The timestamp of the seal does not validate."),
        "original_unknown": _("The sealed original is not in our registry."),
        "pages_differ": _("Some pages look different from the sealed original."),
        "page_count_differs": _("The number of pages differs from the sealed original."),
        "no_visible_change": _("No visible difference was found with the sealed original."),
        "pages_missing": _("Some pages of the sealed original are not in this file."),
        "pages_unmatched": _("Some pages of this file are not pages of the sealed original."),
        "not_the_sealed_document": _(
            "None of its pages is a page of the sealed document: it only carries its code."
        ),
        "not_pdf": _("This file is not a readable PDF."),
        **explaining.static_messages(),
    }


def _as_stream(data: bytes | IO[bytes]) -> IO[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(data))
    return data


def hash_stream(stream: IO[bytes]) -> tuple[str, int]:
    """SHA-256 and size, read in chunks (uploads can be 20 MB), then rewound."""
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def _info_code(reader: Any) -> str:
    try:
        info = reader.trailer_view.get("/Info")
        value = info.get(INFO_CODE_KEY) if info is not None else None
        return str(value) if value is not None else ""
    except Exception:
        return ""


@pdfguard.guarded  # a page can inflate to gigabytes: parsed in a bounded child process
def _stripe_code(stream: IO[bytes]) -> tuple[str, int | None]:
    """The code printed in the stripe (first pages only) and the page count, via pdfium."""
    import pypdfium2 as pdfium

    stream.seek(0)
    try:
        pdf = pdfium.PdfDocument(stream)
    except Exception:
        return "", None
    try:
        count = len(pdf)
        for index in range(min(count, 3)):
            try:
                page = pdf[index]
            except pdfium.PdfiumError:  # a broken page tree: no stripe to read on that page
                continue
            textpage = page.get_textpage()
            match = STRIPE_RE.search(textpage.get_text_range())
            textpage.close()
            page.close()
            if match:
                return match.group(1), count
        return "", count
    finally:
        pdf.close()
        stream.seek(0)


def verify_pdf(
    *,
    data: bytes | IO[bytes],
    sha256: str | None = None,
    with_diff: bool = True,
    full_comparison: Callable[[SealedDocument], bool] | None = None,
) -> VerificationResult:
    """authentic / modified / unknown for a file, read once for every hash it needs.

    `sha256` may be given when the caller already hashed the bytes while receiving them (the
    upload handler does); `with_diff=False` skips the page comparison (command line, API).
    The comparison with the sealed original is restricted to what the upload already shows
    (verification.diffing) unless `full_comparison(original)` says the caller is entitled to
    the original itself.
    """
    stream = _as_stream(data)
    reader = _open_reader(stream)
    file = _file_digests(stream, reader, sha256)
    result = VerificationResult(verdict=VERDICT_UNKNOWN, sha256=file.sha256, size=file.size)
    if not _looks_like_pdf(result, stream):
        return result
    registered = SealedDocument.objects.filter(sha256=file.sha256).first()
    reader = _read_signatures(result, stream, reader)
    seal = result.seal
    if registered is None and seal is not None and seal.all_ok and seal.lta_ok:
        # Our archive copy: a registered file plus DSS data and document timestamps only.
        from verification.archive import registered_prefix

        registered = registered_prefix(stream, seal, file.prefixes)
    if registered is not None and seal is not None and seal.all_ok:
        return _authentic(result, registered, reader)
    # Not our sealed file as it was: what its pages say, read in the bounded child.
    stripe_code, result.page_count = _stripe_code(stream)
    if reader is None and result.page_count is None:
        result.error = "not_pdf"
        result.reasons.append("not_pdf")
        return result
    code = (_info_code(reader) if reader is not None else "") or stripe_code
    if registered is None and not code and seal is None:
        # Nothing of ours in its bytes: unknown, but a scan may carry our QR code.
        explaining.recognise_paper_copy(result=result, stream=stream)
        return result
    if registered is None:
        result.reasons.append("not_registered")
    _explain_modified(result, registered=registered, code=code)
    _compare(result, stream, with_diff=with_diff, full_comparison=full_comparison)
    explaining.add_reasons(result=result, stream=stream, original=result.sealed)
    return result


def _open_reader(stream: IO[bytes]) -> Any:
    """pyHanko's reader of a file that starts like a PDF, None for anything else or a file
    pyHanko cannot read."""
    head = stream.read(1024)
    stream.seek(0)
    if b"%PDF-" not in head:
        return None
    try:
        return pades.open_reader(stream)
    except Exception as exc:
        logger.info("pyHanko could not read the upload: %s", exc)
        return None
    finally:
        stream.seek(0)


def _file_digests(stream: IO[bytes], reader: Any, sha256: str | None) -> digests.FileDigests:
    """The file's SHA-256 and size, with its signatures' digests when it has any (one read).

    The caller's `sha256` (hashed while the upload streamed in) spares the read of a file
    without signatures; a signed file is read once anyway for the signatures' digests.
    """
    signatures = list(reader.embedded_signatures) if reader is not None else []
    if sha256 is None or signatures:
        return digests.read_once(stream, signatures)
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return digests.FileDigests(sha256=sha256, size=size)


def _authentic(
    result: VerificationResult, registered: SealedDocument, reader: Any
) -> VerificationResult:
    """Our sealed file byte for byte (or our archive copy of it), its seal valid.

    Its pages are ours: their count is read from the page tree pyHanko has open, not by
    pdfium in the child that bounds strangers' files.
    """
    result.verdict = VERDICT_AUTHENTIC
    result.code = registered.code
    result.sealed = registered
    result.page_count = pades.page_count(reader)
    return result


def _looks_like_pdf(result: VerificationResult, stream: IO[bytes]) -> bool:
    """False (the result says why) for what is not a PDF: a photo of a printed copy is looked
    at for our QR code."""
    head = stream.read(1024)
    stream.seek(0)
    if b"%PDF-" in head:
        return True
    if explaining.is_image(head):  # a photo or scan of a printed copy, maybe
        explaining.recognise_paper_copy(result=result, stream=stream, image=True)
        if result.reasons:
            return False
    result.error = "not_pdf"
    result.reasons.append("not_pdf")
    return False


def _read_signatures(result: VerificationResult, stream: IO[bytes], reader: Any) -> Any:
    """The signatures in the file (result.signatures) and pyHanko's reader (`_open_reader`'s),
    None if it could not read the file."""
    if reader is None:
        return None
    material = keys.verification_material()  # certificates from files, never the token
    try:
        result.signatures, reader = pades.inspect_signatures(
            stream=stream, material=material, reader=reader
        )
    except Exception as exc:
        logger.info("pyHanko could not read the upload: %s", exc)
        reader = None
    stream.seek(0)
    return reader


def _explain_modified(
    result: VerificationResult,
    *,
    registered: SealedDocument | None,
    code: str,
) -> None:
    """A file of ours that is not our sealed file as it was: modified, the original found by
    hash or by its code, and what the seal says about the change."""
    result.verdict = VERDICT_MODIFIED
    original = registered or (
        SealedDocument.objects.filter(code=code).first() if code and CODE_RE.match(code) else None
    )
    result.sealed = original
    result.code = original.code if original else code
    seal = result.seal
    if seal is None:
        result.reasons.append("signature_missing")
    else:
        result.reasons.extend(_seal_reasons(seal))
    if original is None:
        result.reasons.append("original_unknown")


def _seal_reasons(seal: pades.SignatureReport) -> list[str]:
    if not seal.intact:
        return ["bytes_changed"]
    reasons = []
    if (
        not seal.entire_file
        # LTA_UPDATES (DSS, document timestamps) counts only when the newest timestamp
        # covers the whole file: entire_file says so (pades.SignatureReport.lta_ok).
        or seal.modification_level not in ("NONE", "UNKNOWN", "LTA_UPDATES")
        or seal.docmdp_ok is False
    ):
        # Intact signed bytes plus anything after them: an incremental update.
        reasons.append("appended")
    if not (seal.valid and seal.trusted):
        reasons.append("signature_untrusted")
    if not seal.timestamp_ok:
        reasons.append("timestamp_invalid")
    return reasons


def _compare(
    result: VerificationResult,
    stream: IO[bytes],
    *,
    with_diff: bool,
    full_comparison: Callable[[SealedDocument], bool] | None,
) -> None:
    """The page comparison with the sealed original, when there is one and it is asked for."""
    original = result.sealed
    if original is None or not with_diff:
        return
    from verification.diffing import compare_with_original

    full = full_comparison is not None and full_comparison(original)
    result.disclosure = DISCLOSURE_FULL if full else DISCLOSURE_RESTRICTED
    compare_with_original(result=result, stream=stream, original=original, full=full)
