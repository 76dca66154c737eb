"""The machine-readable copy of the certificate of completion, attached to the sealed PDF.

`signflow-record.json` carries the same record as the certificate pages: the parties with
their consent words and signature images, every audit event in order, both hashes, what was
removed from the upload, the level. It is attached before the seal, so the seal covers it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

RECORD_FORMAT = "signflow-record"
RECORD_VERSION = 1


def build_record(
    *,
    metadata: dict[str, Any],
    verify_url: str,
    sealed_at: dt.datetime,
    tsa_name: str,
    signed_sha256: str,
    level: str,
) -> bytes:
    record = {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "code": metadata.get("code", ""),
        "title": metadata.get("title", ""),
        "language": metadata.get("language", ""),
        "verification_url": verify_url,
        "level": {
            "signatures": "simple",
            "seal": "electronic seal of the operating company",
            "qualified": False,
            "statement": level,
        },
        "hashes": {
            "original_sha256": metadata.get("original_sha256", ""),
            # The signed values drawn on the pages, before the stripe, certificate and seal.
            "signed_sha256": signed_sha256,
            # A file cannot contain its own hash: the sealed file's is in the registry.
            "sealed_sha256": None,
            "sealed_sha256_note": "registered at verification_url; the seal covers this file",
        },
        "sender": metadata.get("sender") or {},
        "created_at": metadata.get("created_at", ""),
        "sent_at": metadata.get("sent_at", ""),
        "sealed_at": sealed_at.astimezone(dt.UTC).isoformat(),
        "timestamp_authority": tsa_name,
        "audit_head": metadata.get("audit_head", ""),
        "parties": metadata.get("parties") or [],
        "events": metadata.get("events") or [],
        "removed_from_upload": metadata.get("removed") or {},
    }
    return json.dumps(record, ensure_ascii=False, indent=1, sort_keys=False).encode()
