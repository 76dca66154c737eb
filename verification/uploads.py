"""Receiving an uploaded PDF: size limit enforced while streaming, SHA-256 computed on the way."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

# Multipart framing around the file itself: boundaries, headers, the CSRF field.
MULTIPART_SLACK = 64 * 1024


def max_upload_bytes() -> int:
    return settings.SIGNFLOW_UPLOAD_MAX_BYTES


def declared_too_large(request: HttpRequest) -> bool:
    """Refuse from Content-Length alone, before a byte of the body is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > max_upload_bytes() + MULTIPART_SLACK


class HashingLimitUploadHandler(FileUploadHandler):
    """First in the chain: counts and hashes each chunk, then passes it on unchanged.

    Django's own handlers after it keep the file in memory or spool it to a temporary file,
    so the upload is read from the socket once and hashed in the same pass.
    """

    def __init__(self, request: HttpRequest | None = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = limit if limit is not None else max_upload_bytes()
        self.too_large = False
        self.digests: dict[str, str] = {}
        self._digest: Any = None
        self._size = 0

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, *args, **kwargs)
        self._digest = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, _start: int) -> bytes:
        self._size += len(raw_data)
        if self._size > self.limit:
            self.too_large = True
            # Stop reading the body at once: a lying Content-Length gets no further.
            raise StopUpload(connection_reset=True)
        self._digest.update(raw_data)
        return raw_data

    def file_complete(self, _file_size: int) -> None:
        if self._digest is not None and self.field_name:
            self.digests[self.field_name] = self._digest.hexdigest()
        return None


def install_handler(request: HttpRequest) -> HashingLimitUploadHandler:
    """Put the hashing handler first; must run before request.POST/FILES is touched."""
    handler = HashingLimitUploadHandler(request)
    request.upload_handlers.insert(0, handler)
    return handler
