"""The stable JSON shape of a verdict, shared by the API and `manage.py verify --json`."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from verification import explaining
from verification.models import SealedDocument
from verification.services import VERDICT_MODIFIED, VerificationResult, reason_messages

SCHEMA_VERSION = 1


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def public_parties(sealed: SealedDocument) -> list[dict[str, Any]]:
    """Parties as shown publicly: masked contacts, no IP addresses or user agents."""
    return [{**party, "signed_at": _iso(party["signed_at"])} for party in sealed.public_parties()]


def sealed_as_json(sealed: SealedDocument | None) -> dict[str, Any]:
    if sealed is None:
        return {
            "code": None,
            "title": None,
            "sealed_at": None,
            "timestamp_time": None,
            "tsa": None,
            "sha256": None,
            "original_sha256": None,
            "parties": [],
            "seal_certificate_sha256": None,
            "root_certificate_sha256": None,
        }
    return {
        "code": sealed.code,
        "title": sealed.metadata.get("title", ""),
        "sealed_at": _iso(sealed.sealed_at),
        "timestamp_time": _iso(sealed.timestamp_time),
        "tsa": sealed.tsa_name,
        "sha256": sealed.sha256,
        "original_sha256": sealed.original_sha256,
        "parties": public_parties(sealed),
        "seal_certificate_sha256": sealed.metadata.get("seal_certificate_sha256"),
        "root_certificate_sha256": sealed.metadata.get("root_certificate_sha256"),
    }


def error_json(code: str, message: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "verdict": None,
        **sealed_as_json(None),
        "file": None,
        "reasons": [],
        "changes": _no_changes(),
        "message": message,
        "error": {"code": code, "message": message},
    }


def result_as_json(result: VerificationResult) -> dict[str, Any]:
    messages = reason_messages()
    data = {
        "schema": SCHEMA_VERSION,
        "verdict": result.verdict,
        **sealed_as_json(result.sealed),
        "file": {"sha256": result.sha256, "size": result.size, "pages": result.page_count},
        "reasons": [
            {"code": e.code, "message": e.message} for e in explaining.explanations(result)
        ],
        "changes": changes_as_json(result),
        "message": result_message(result),
        "error": None,
    }
    if result.code and not data["code"]:
        data["code"] = result.code
    if result.error:
        data["error"] = {"code": result.error, "message": messages.get(result.error, "")}
    return data


def _no_changes() -> dict[str, Any]:
    return {
        "disclosure": None,
        "pages": [],
        "text": [],
        "matched_pages": [],
        "unmatched_pages": [],
        "missing_pages": [],
    }


def changes_as_json(result: VerificationResult) -> dict[str, Any]:
    """What differs, cut to what this caller may see (the rule is in verification.diffing).

    `pages` and `text` keep their entries' shape; `disclosure` says which rule applied
    ("restricted" for anyone holding a file, "full" for those entitled to the original).
    """
    if result.sealed is None or result.verdict != VERDICT_MODIFIED:
        return _no_changes()
    return {
        "disclosure": result.disclosure,
        "pages": [
            {"page": d.page, "regions": [list(r) for r in d.regions]} for d in result.page_diffs
        ],
        "text": [
            {"page": c.page, "removed": c.removed, "added": c.added} for c in result.text_changes
        ],
        "matched_pages": [
            {"page": page, "original_page": original}
            for page, original in sorted(result.matched_pages.items())
        ],
        "unmatched_pages": result.unmatched_pages,
        "missing_pages": result.missing_pages,
    }


def result_message(result: VerificationResult) -> str:
    if result.not_the_sealed_document:
        return not_the_sealed_document_message(result.code)
    if "paper_copy" in result.reasons:
        return explaining.paper_copy_message(result.code)
    return verdict_message(result.verdict)


def not_the_sealed_document_message(code: str) -> str:
    return _("This is not the sealed document %(code)s.") % {"code": code}


def verdict_message(verdict: str | None) -> str:
    return {
        "authentic": _("Authentic: this is exactly the document SignFlow sealed."),
        "modified": _("Modified: this file was changed after SignFlow sealed it."),
        "unknown": _("Unknown: this file carries no SignFlow seal, we cannot vouch for it."),
    }.get(verdict or "", "")
