"""Archive timestamps (PAdES B-LTA): evidence that outlives the certificates it rests on.

A sealed file ends with a document timestamp. Its TSA certificate expires one day; before
that, `add_archive_timestamp` appends fresh revocation data (DSS) and a new document timestamp
from a TSA certificate that lives longer, and keeps doing so (verification.tasks runs it
daily). Our copy grows; the registry keeps the hash of the file as sealed, and a copy that
only gained such updates is recognised by its registered prefix (`registered_prefix`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from signflow.storage import save_once
from verification import digests, keys, pades
from verification.models import SealedDocument

logger = logging.getLogger(__name__)

ARCHIVE_KEY = "archive_timestamps"  # SealedDocument.metadata: one entry per archive timestamp
EXPIRY_KEY = "newest_timestamp_not_after"  # when our copy's newest timestamp certificate expires


def renew_days() -> int:
    return settings.SIGNFLOW_ARCHIVE_RENEW_DAYS


def registered_prefix(
    stream: IO[bytes], seal: pades.SignatureReport, known: dict[int, str] | None = None
) -> SealedDocument | None:
    """The registered file this one extends with DSS data and document timestamps only.

    `seal.lta_ok` must hold (checked by the caller): everything after the seal is an LTA
    update and the newest document timestamp covers the whole file. `known` maps a length to
    the SHA-256 of the file's first bytes when the caller has it (digests.FileDigests.prefixes);
    any other prefix is hashed here, read in blocks.
    """
    known = known or {}
    for stamp in reversed(seal.document_timestamps):
        sha256 = known.get(stamp.revision_end) or _prefix_sha256(stream, stamp.revision_end)
        found = SealedDocument.objects.filter(sha256=sha256).first()
        if found is not None:
            return found
    return None


def _prefix_sha256(stream: IO[bytes], length: int) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    digests.feed(stream, length, [digest])
    stream.seek(0)
    return digest.hexdigest()


def current_copy(document: SealedDocument) -> tuple[str, bytes]:
    """Our newest copy of a sealed document: its last archive version, else the sealed file."""
    entries = document.metadata.get(ARCHIVE_KEY) or []
    path = str(entries[-1]["path"]) if entries else str(document.file.name)
    with default_storage.open(path, "rb") as fh:
        return path, fh.read()


def newest_timestamp_expiry(pdf_bytes: bytes) -> dt.datetime | None:
    """When the certificate of the newest timestamp in the file expires."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
    stamps = reader.embedded_timestamp_signatures
    if stamps:
        cert: Any = stamps[-1].signer_cert
    else:  # sealed before B-LTA: the seal's own signature timestamp
        cert = None
        for sig in reader.embedded_regular_signatures:
            for attr in sig.signer_info["unsigned_attrs"] or []:
                if attr["type"].native == "signature_time_stamp_token":
                    token = attr["values"][0]["content"]
                    sid = token["signer_infos"][0]["sid"]
                    for choice in token["certificates"]:
                        candidate = choice.chosen
                        if (
                            sid.name == "issuer_and_serial_number"
                            and candidate.serial_number == sid.chosen["serial_number"].native
                        ):
                            cert = candidate
        if cert is None:
            return None
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    return not_after if isinstance(not_after, dt.datetime) else None


def add_archive_timestamp(document: SealedDocument, *, force: bool = False) -> bool:
    """Archive-timestamp one sealed document when its newest timestamp expires soon.

    Returns True when a new document timestamp was added.
    """
    path, data = current_copy(document)
    expiry = newest_timestamp_expiry(data)
    now = timezone.now()
    due = expiry is None or expiry - now <= dt.timedelta(days=renew_days())
    if not (due or force):
        if expiry is not None and document.metadata.get(EXPIRY_KEY) != expiry.isoformat():
            # Remembered so the daily run does not read the file again until it is due.
            SealedDocument.objects.filter(pk=document.pk).update(
                metadata={**document.metadata, EXPIRY_KEY: expiry.isoformat()}
            )
        return False
    if not settings.TSA_URL:
        # A new timestamp from a certificate about to expire proves nothing for long.
        keys.renew_tsa_certificate(min_days_left=renew_days())
    material = keys.verification_material()  # the TSA and the root: no seal key
    if (
        not force
        and not settings.TSA_URL
        and expiry is not None
        and material.tsa_cert.not_valid_after_utc <= expiry
    ):
        logger.warning("No TSA certificate outlives %s: %s not archived", expiry, document.code)
        return False
    extended = pades.archive_timestamp(pdf_bytes=data, material=material)
    sha = hashlib.sha256(extended).hexdigest()
    new_path = f"sealed/archive/{sha}.pdf"
    save_once(new_path, extended)
    new_expiry = newest_timestamp_expiry(extended)
    with transaction.atomic():
        locked = SealedDocument.objects.select_for_update().get(pk=document.pk)
        entries = list(locked.metadata.get(ARCHIVE_KEY) or [])
        previous = str(entries[-1]["path"]) if entries else str(locked.file.name)
        if previous != path:  # another run archived it meanwhile: theirs stands
            return False
        entries.append(
            {
                "path": new_path,
                "sha256": sha,
                "size": len(extended),
                "added_at": now.isoformat(),
                "replaces": path,
                "timestamp_not_after": new_expiry.isoformat() if new_expiry else "",
                "tsa": pades.tsa_display_name(),
            }
        )
        locked.metadata = {
            **locked.metadata,
            ARCHIVE_KEY: entries,
            EXPIRY_KEY: new_expiry.isoformat() if new_expiry else "",
        }
        locked.save(update_fields=["metadata"])
    document.metadata = locked.metadata
    logger.info("Archive timestamp added to %s (%s)", document.code, sha)
    return True


def _due(document: SealedDocument, now: dt.datetime) -> bool:
    not_after = str(document.metadata.get(EXPIRY_KEY) or "")
    if not not_after:
        return True  # not recorded yet: read the file
    expiry = dt.datetime.fromisoformat(not_after)
    return expiry - now <= dt.timedelta(days=renew_days())


def add_archive_timestamps() -> int:
    """Every sealed document whose newest timestamp expires soon gets an archive timestamp."""
    now = timezone.now()
    added = 0
    for document in SealedDocument.objects.order_by("pk").iterator(chunk_size=200):
        if not _due(document, now):
            continue
        try:
            if add_archive_timestamp(document):
                added += 1
        except Exception:
            logger.exception("Archive timestamp for %s failed; retried next run", document.code)
    return added
