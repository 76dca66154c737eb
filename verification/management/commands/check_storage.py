"""Check that every sealed document's file is in storage and still has its registered hash.

    python manage.py check_storage [--verbose]

First checks that the storage answers at all (a small file written, read back and deleted: a
wrong bucket or key stops here, with S3's answer). Then reads each file through its storage (the
file system or S3, as configured), hashes it and compares the SHA-256 and size with the registry
row. Prints one line per problem and a summary; exit status 1 when a file is missing, unreadable
or changed (run it after a restore, and from cron: a non-zero status is worth a page).
"""

import hashlib
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from signflow import storage
from verification.models import SealedDocument

CHUNK = 1024 * 1024


def _digest(document: SealedDocument, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with document.file.storage.open(name, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check(document: SealedDocument) -> str | None:
    """What is wrong with this document's file, or None."""
    name = document.file.name
    if not name:
        return f"{document.code}: no file recorded"
    try:
        sha256, size = _digest(document, name)
    except FileNotFoundError:
        return f"{document.code}: missing from storage ({name})"
    except OSError as exc:  # a storage error (permissions, S3 answering an error)
        return f"{document.code}: unreadable ({name}): {type(exc).__name__}: {exc}"
    if sha256 != document.sha256:
        return (
            f"{document.code}: changed ({name}): SHA-256 {sha256}, "
            f"registered {document.sha256}, {size} bytes (registered {document.size})"
        )
    if size != document.size:
        return f"{document.code}: size {size} bytes, registered {document.size} ({name})"
    return None


class Command(BaseCommand):
    help = "Check every sealed document's file in storage against its registered SHA-256."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--verbose", action="store_true", help="also list the files found")

    def handle(self, *_args: Any, verbose: bool = False, **_options: Any) -> None:
        try:
            storage.probe()
        except OSError as exc:  # the file system or the bucket refuses to write or read
            raise CommandError(
                f"The storage cannot be used ({settings.STORAGES['default']['BACKEND']}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        checked = problems = 0
        rows = SealedDocument.objects.only("code", "sha256", "size", "file").order_by("pk")
        for document in rows.iterator(chunk_size=500):
            checked += 1
            problem = check(document)
            if problem:
                problems += 1
                self.stderr.write(problem)
            elif verbose:
                self.stdout.write(f"{document.code}: ok ({document.file.name})")
        summary = f"{checked} sealed documents checked, {problems} with a problem"
        if problems:
            raise CommandError(summary)
        self.stdout.write(summary)
