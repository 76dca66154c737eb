"""`python manage.py verify FILE [--json]`: the verdict against the local registry."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from signflow.pdfguard import PdfGuardError
from verification.explaining import explanations
from verification.keys import KeysError
from verification.reporting import result_as_json
from verification.services import VERDICT_AUTHENTIC, VerificationResult, verify_pdf


class Command(BaseCommand):
    help = "Verify a PDF against the SignFlow registry; exit status 0 only when authentic."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="path of the PDF to verify")
        parser.add_argument("--json", action="store_true", help="print the JSON API's answer")

    def handle(self, *_args: Any, **options: Any) -> None:
        try:
            with open(options["file"], "rb") as fh:
                result = verify_pdf(data=fh, with_diff=not options["json"])
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from exc
        except KeysError as exc:
            raise CommandError(str(exc)) from exc
        except PdfGuardError as exc:
            raise CommandError(f"{exc.code}: {exc.message} ({exc.detail})") from exc
        if options["json"]:
            self.stdout.write(json.dumps(result_as_json(result), indent=2, ensure_ascii=False))
        else:
            self._write_text(result)
        if result.verdict != VERDICT_AUTHENTIC:
            # A non-zero exit without a traceback: scripts test `verify FILE && ...`.
            raise SystemExit(1 if result.verdict == "modified" else 2)

    def _write_text(self, result: VerificationResult) -> None:
        self.stdout.write(f"verdict: {result.verdict}")
        if result.code:
            self.stdout.write(f"code: {result.code}")
        if result.sealed is not None:
            self.stdout.write(f"title: {result.sealed.metadata.get('title', '')}")
            self.stdout.write(f"sealed at: {result.sealed.sealed_at.isoformat()}")
            self.stdout.write(f"tsa: {result.sealed.tsa_name}")
        self.stdout.write(f"sha256: {result.sha256}")
        for explanation in explanations(result):
            self.stdout.write(f"- {explanation.message} ({explanation.code})")
        for diff in result.page_diffs:
            self.stdout.write(f"page {diff.page} differs in {len(diff.regions)} region(s)")
        for change in result.text_changes:
            self.stdout.write(f"page {change.page}: {change.removed!r} -> {change.added!r}")
