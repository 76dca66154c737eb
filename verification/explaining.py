"""Say what happened to a modified file, in words a client understands.

`verify_pdf` decides the verdict; `add_reasons` then names what it found with stable codes
(an annotation or a second signature appended, pages removed, added or reordered, bytes
changed inside the seal's container, a printed or scanned copy), and `explanations` turns
each code into sentences in the active language for the page and the API.

Privacy (verification.diffing's rule holds): what is named comes from the upload itself (an
annotation's text, a signer's name), from the public record (the code, which page of it is the
certificate of completion) or from page numbers; never text of the sealed original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from signflow import pdfguard

if TYPE_CHECKING:
    from verification.models import SealedDocument
    from verification.services import VerificationResult

# Codes superseded by a more precise one: the page shows only the precise one, the API both.
SUPERSEDED = {
    "bytes_changed": "seal_invalid",
    "pages_missing": "pages_removed",
    "pages_unmatched": "pages_added",
}
CHUNK = 1024 * 1024
# Pages looked at for the QR code: the first ones (a photo of a page) and the last ones (the
# certificate of completion, whose first page carries it, comes last).
QR_FIRST_PAGES = 2
QR_LAST_PAGES = 3
QR_MAX_PIXELS = 2000  # longest side of a page rendered to look for the QR code
VERIFY_PATH_RE = re.compile(r"/verify/([A-Z0-9]{6,32})/?(?:$|[?#])")
BYTE_RANGE_RE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
COMMON_NAME_RE = re.compile(r"(?:^|; )Common Name: (.*?)(?=; [A-Z][\w .-]*: |$)")


@dataclass(frozen=True)
class Explanation:
    code: str
    message: str


def static_messages() -> dict[str, str]:
    """One sentence per code, for callers that only have the code."""
    return {
        "annotation_added": _("After sealing, someone added notes or drawings on the pages."),
        "signature_added": _("After sealing, someone added another signature."),
        "pages_removed": _("Pages of the sealed document were removed."),
        "pages_added": _("Pages that are not in the sealed document were added."),
        "pages_reordered": _("Pages of the sealed document were put in another order."),
        "seal_invalid": _(
            "The seal no longer validates: the signed content was changed, or the seal itself "
            "was damaged."
        ),
        "unsigned_bytes_changed": _(
            "Bytes were changed inside a signature container, outside the signed content: the "
            "signed content is identical to the sealed original."
        ),
        "paper_copy": _(
            "This looks like a printed or scanned copy of a sealed document. A copy on paper "
            "cannot be verified: ask the sender for the PDF."
        ),
    }


# --- finding out ---------------------------------------------------------------------------------


def add_reasons(
    *, result: VerificationResult, stream: IO[bytes], original: SealedDocument | None
) -> None:
    """Add the precise codes to a `modified` result, once the comparison (if any) is done."""
    reasons = result.reasons
    if result.added_annotations:
        reasons.append("annotation_added")
        if "no_visible_change" in reasons:  # a note is there, drawn or in the viewer's list
            reasons.remove("no_visible_change")
    if result.seal is not None and added_signatures(result):
        reasons.append("signature_added")
    if "not_the_sealed_document" not in reasons:
        reasons.extend(_page_reasons(result))
    seal = result.seal
    if seal is not None and not seal.intact:
        reasons.append("seal_invalid")
    elif (
        seal is not None and original is not None and outside_containers_identical(stream, original)
    ):
        reasons.append("unsigned_bytes_changed")
        if "appended" in reasons:
            # Same length, same bytes outside the containers: nothing was appended. (A later
            # document timestamp covering the changed container no longer validates: that is
            # timestamp_invalid.)
            reasons.remove("appended")


def _page_reasons(result: VerificationResult) -> list[str]:
    """Pages removed, added or moved, against the sealed document's pages."""
    reasons = []
    if result.missing_pages and result.matched_pages:
        reasons.append("pages_removed")
    if result.unmatched_pages and result.matched_pages:
        reasons.append("pages_added")
    if moved_pages(result.matched_pages):
        reasons.append("pages_reordered")
    return reasons


def added_signatures(result: VerificationResult) -> list[tuple[str, Any]]:
    """(signer's common name, the date it claims) of each signature that is not our seal."""
    found = []
    for report in result.signatures:
        if report.ours:
            continue
        match = COMMON_NAME_RE.search(report.signer)
        name = match.group(1) if match else report.signer
        found.append((name or _("an unknown signer"), report.timestamp_time or report.signing_time))
    return found


def moved_pages(matched: dict[int, int]) -> list[tuple[int, int]]:
    """(original page, uploaded page) of the matching pages whose order changed.

    Ranks, not numbers, are compared: a page that comes later only because a page before it
    was removed or added did not move.
    """
    pairs = sorted(matched.items())
    by_original = sorted(original for _page, original in pairs)
    return [
        (original, page)
        for (page, original), expected in zip(pairs, by_original, strict=True)
        if original != expected
    ]


def outside_containers_identical(stream: IO[bytes], original: SealedDocument) -> bool:
    """Whether the upload has the original's length and bytes outside its signatures'
    containers (the /Contents gaps of each /ByteRange): only unsigned bytes were changed."""
    if original.size != _size(stream):
        return False
    with original.file.open("rb") as fh:
        sealed = fh.read()
    gaps = sorted(
        (int(m.group(1)) + int(m.group(2)), int(m.group(3))) for m in BYTE_RANGE_RE.finditer(sealed)
    )
    if not gaps:
        return False
    position = 0
    try:
        for start, end in [*gaps, (len(sealed), len(sealed))]:
            stream.seek(position)
            while position < start:
                chunk = stream.read(min(CHUNK, start - position))
                if not chunk or chunk != sealed[position : position + len(chunk)]:
                    return False
                position += len(chunk)
            position = max(position, end)
        return True
    finally:
        stream.seek(0)


def _size(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG
MAX_IMAGE_PIXELS = 60_000_000  # a 600 dpi A4 scan is 35 million pixels


def is_image(head: bytes) -> bool:
    return head.startswith(IMAGE_MAGIC)


def recognise_paper_copy(
    *, result: VerificationResult, stream: IO[bytes], image: bool = False
) -> None:
    """A file with nothing of ours in its bytes whose page pictures (or which, as a PNG or
    JPEG photo or scan, itself) carries our QR code: a printed or scanned copy of that sealed
    document. The verdict stays `unknown`."""
    from verification.models import SealedDocument

    for code in qr_codes_in_image(stream) if image else qr_codes(stream):
        sealed = SealedDocument.objects.filter(code=code).first()
        if sealed is not None:
            result.reasons.append("paper_copy")
            result.code = sealed.code
            result.sealed = sealed  # its public record, as the QR code's page shows it
            return


@pdfguard.guarded  # renders a stranger's pages: in a bounded child process
def qr_codes(stream: IO[bytes]) -> list[str]:
    """Document codes of the /verify/<code>/ links in QR codes drawn on the first and last
    pages (QR_FIRST_PAGES, QR_LAST_PAGES), rendered at a bounded size."""
    import pypdfium2 as pdfium

    stream.seek(0)
    try:
        pdf = pdfium.PdfDocument(stream)
    except Exception:
        return []
    codes: list[str] = []
    try:
        count = len(pdf)
        first = range(min(count, QR_FIRST_PAGES))
        indexes = sorted({*first, *range(max(count - QR_LAST_PAGES, 0), count)})
        for index in indexes:
            try:
                page = pdf[index]
                width, height = page.get_size()
                scale = min(2.0, QR_MAX_PIXELS / max(width, height, 1))
                image = page.render(scale=scale).to_pil().convert("L")
                page.close()
            except pdfium.PdfiumError:
                continue
            codes += [code for code in _verify_codes(image) if code not in codes]
        return codes
    finally:
        pdf.close()
        stream.seek(0)


@pdfguard.guarded  # decoding a stranger's picture: in a bounded child process
def qr_codes_in_image(stream: IO[bytes]) -> list[str]:
    """Document codes of the /verify/<code>/ links in QR codes on a PNG or JPEG picture,
    decoded at a bounded size."""
    from PIL import Image

    stream.seek(0)
    try:
        with Image.open(stream) as picture:
            if picture.width * picture.height > MAX_IMAGE_PIXELS:
                return []
            picture.draft("L", (QR_MAX_PIXELS, QR_MAX_PIXELS))  # JPEG: decode at a lower scale
            image = picture.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        return []
    finally:
        stream.seek(0)
    image.thumbnail((QR_MAX_PIXELS, QR_MAX_PIXELS))
    return _verify_codes(image)


def _verify_codes(image: Any) -> list[str]:
    """Document codes of the /verify/<code>/ links in the QR codes of a picture."""
    import zxingcpp

    qr_only = zxingcpp.barcode_formats_from_str("QRCode")
    codes: list[str] = []
    for barcode in zxingcpp.read_barcodes(image, formats=qr_only):
        match = VERIFY_PATH_RE.search(barcode.text)
        if match and match.group(1) not in codes:
            codes.append(match.group(1))
    return codes


# --- saying it -----------------------------------------------------------------------------------


def _annotation_kind(kind: str) -> str:
    kinds = {
        "FreeText": pgettext("annotation", "a note"),
        "Text": pgettext("annotation", "a comment"),
        "Stamp": pgettext("annotation", "a stamp"),
        "Square": pgettext("annotation", "a rectangle"),
        "Circle": pgettext("annotation", "a circle"),
        "Line": pgettext("annotation", "a line"),
        "Ink": pgettext("annotation", "a drawing"),
        "Highlight": pgettext("annotation", "a highlight"),
        "Underline": pgettext("annotation", "an underline"),
        "StrikeOut": pgettext("annotation", "a strike-through"),
        "FileAttachment": pgettext("annotation", "an attached file"),
    }
    return kinds.get(kind, pgettext("annotation", "an annotation"))


def _annotation_sentence(kind: str, text: str, page: int) -> str:
    if text:
        return _("After sealing, someone added %(kind)s “%(text)s” on page %(page)s.") % {
            "kind": _annotation_kind(kind),
            "text": text,
            "page": page,
        }
    return _("After sealing, someone added %(kind)s on page %(page)s.") % {
        "kind": _annotation_kind(kind),
        "page": page,
    }


def _signature_sentence(name: str, moment: Any) -> str:
    if moment is None:
        return _("A second signature by %(name)s was added after the seal.") % {"name": name}
    return _("A second signature by %(name)s was added after the seal, on %(date)s.") % {
        "name": name,
        "date": formats.date_format(timezone.localtime(moment), "DATE_FORMAT"),
    }


def _page_list(numbers: list[int]) -> str:
    words = [str(n) for n in numbers]
    if len(words) == 1:
        return words[0]
    return _("%(pages)s and %(last)s") % {"pages": ", ".join(words[:-1]), "last": words[-1]}


def _removed_sentences(result: VerificationResult) -> list[str]:
    certificate = set(result.certificate_pages)
    sentences = []
    plain = [n for n in result.missing_pages if n not in certificate]
    if plain:
        sentences.append(
            ngettext(
                "Page %(pages)s of the sealed document was removed.",
                "Pages %(pages)s of the sealed document were removed.",
                len(plain),
            )
            % {"pages": _page_list(plain)}
        )
    removed = [n for n in result.missing_pages if n in certificate]
    if removed:
        sentences.append(
            ngettext(
                "Page %(pages)s, the certificate of completion, was removed.",
                "Pages %(pages)s, the certificate of completion, were removed.",
                len(removed),
            )
            % {"pages": _page_list(removed)}
        )
    return sentences


def _reordered_sentences(result: VerificationResult) -> list[str]:
    moved = moved_pages(result.matched_pages)
    if len(moved) == 2:  # two pages out of place: they took each other's place
        first, second = sorted(original for original, _page in moved)
        return [
            _("Pages %(first)s and %(second)s of the sealed document were swapped.")
            % {"first": first, "second": second}
        ]
    return [
        _("Page %(original)s of the sealed document is now page %(page)s.")
        % {"original": original, "page": page}
        for original, page in moved
    ]


def _sentences(result: VerificationResult, code: str) -> list[str]:
    if code == "annotation_added":
        return [_annotation_sentence(a.kind, a.text, a.page) for a in result.added_annotations]
    if code == "signature_added":
        return [_signature_sentence(name, moment) for name, moment in added_signatures(result)]
    if code == "pages_removed":
        return _removed_sentences(result)
    if code == "pages_added":
        pages = result.unmatched_pages
        return [
            ngettext(
                "Page %(pages)s of this file is not in the sealed document: it was added.",
                "Pages %(pages)s of this file are not in the sealed document: they were added.",
                len(pages),
            )
            % {"pages": _page_list(pages)}
        ]
    if code == "pages_reordered":
        return _reordered_sentences(result)
    if code == "paper_copy":
        return [paper_copy_message(result.code)]
    return []


def paper_copy_message(code: str) -> str:
    return _(
        "This looks like a printed or scanned copy of sealed document %(code)s. A copy on "
        "paper cannot be verified: ask the sender for the PDF."
    ) % {"code": code}


def explanations(result: VerificationResult) -> list[Explanation]:
    """Each reason code with its message in the active language (precise when it can be)."""
    from verification.services import reason_messages

    messages = reason_messages()
    out = []
    for code in result.reasons:
        sentences = _sentences(result, code)
        message = " ".join(sentences) if sentences else messages.get(code, code)
        out.append(Explanation(code=code, message=message))
    return out


def page_texts(result: VerificationResult) -> list[str]:
    """The messages the verification page lists: precise ones rather than their summaries."""
    codes = set(result.reasons)
    return [
        explanation.message
        for explanation in explanations(result)
        if explanation.code not in ("not_registered", "paper_copy")
        and SUPERSEDED.get(explanation.code) not in codes
    ]
