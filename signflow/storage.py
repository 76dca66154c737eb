"""Where SignFlow keeps its files: Django's default storage, the file system or an S3 bucket.

Every file SignFlow writes or reads (uploaded and generated documents, page previews, signature
and stamp images, sealed PDFs) goes through `django.core.files.storage.default_storage`, by
name, never by a path on the local disk: several web and worker nodes then share one bucket.

`default_storage_setting` builds `STORAGES["default"]` from the environment (called once, by
signflow/settings.py): `SIGNFLOW_STORAGE=filesystem` (the default, under MEDIA_ROOT) or `s3`,
django-storages' S3 backend (`signflow.s3.S3Storage`) configured by the AWS_* variables that
django-storages and boto3 use. The bucket stays private: objects are written with the private
ACL and read back through SignFlow's own views, which check access first.

Whatever the backend, a storage that cannot answer raises an `OSError`: `StorageUnavailable`
for S3 errors, so the callers' `except OSError` (sealing's `storage_failed`, check_storage)
cover both. A page that meets one answers 503 with a short explanation
(`StorageUnavailableMiddleware`), never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from signflow.env import env_int, env_str

logger = logging.getLogger(__name__)

FILESYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "signflow.s3.S3Storage"
STORAGE_KINDS = ("filesystem", "s3")
PROBE_DIR = "readyz"
# Presigned URLs (storage.url()), if a view ever hands one out: valid five minutes.
S3_URL_EXPIRE_SECONDS = 300
# A file read from S3 up to this size stays in memory; past it, in a temporary file.
S3_MAX_MEMORY_BYTES = 8 * 1024 * 1024


class StorageUnavailable(OSError):
    """The object storage answered an error, or nothing: the message names the operation, the
    object, the bucket and the S3 error code (never a credential)."""


def default_storage_setting(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """STORAGES["default"] for SIGNFLOW_STORAGE (from `environ`, default os.environ)."""
    kind = env_str("SIGNFLOW_STORAGE", "filesystem", environ=environ).strip().lower()
    if kind in ("", "filesystem"):
        return {"BACKEND": FILESYSTEM_BACKEND}
    if kind != "s3":
        raise ImproperlyConfigured(
            f"SIGNFLOW_STORAGE must be one of {', '.join(STORAGE_KINDS)}, not {kind!r}."
        )
    return {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(environ)}


def s3_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """django-storages' S3Storage options from the AWS_* variables (README, Configuration)."""

    def get(name: str, default: str = "") -> str:
        return env_str(name, default, environ=environ).strip()

    bucket = get("AWS_STORAGE_BUCKET_NAME")
    if not bucket:
        raise ImproperlyConfigured(
            "SIGNFLOW_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME: the name of the private bucket "
            "that holds SignFlow's files."
        )
    endpoint = get("AWS_S3_ENDPOINT_URL")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": endpoint or None,
        "region_name": get("AWS_S3_REGION_NAME") or None,
        # MinIO and most S3-compatible services want path-style URLs (http://host/bucket/key).
        "addressing_style": get("AWS_S3_ADDRESSING_STYLE", "path" if endpoint else "") or None,
        "default_acl": get("AWS_DEFAULT_ACL", "private") or None,
        "querystring_auth": True,
        "querystring_expire": env_int(
            "AWS_QUERYSTRING_EXPIRE", S3_URL_EXPIRE_SECONDS, environ=environ
        ),
        # Names are unique, as on the file system: saving under a taken name picks another.
        "file_overwrite": False,
        "max_memory_size": S3_MAX_MEMORY_BYTES,
        "connect_timeout": env_int("AWS_S3_CONNECT_TIMEOUT", 5, environ=environ),
        "read_timeout": env_int("AWS_S3_READ_TIMEOUT", 30, environ=environ),
        "max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3, environ=environ),
    }
    # Without keys, boto3 looks for credentials itself (instance role, ~/.aws, its variables).
    if get("AWS_ACCESS_KEY_ID"):
        options["access_key"] = get("AWS_ACCESS_KEY_ID")
        options["secret_key"] = get("AWS_SECRET_ACCESS_KEY")
    return options


def probe(storage: Storage | None = None) -> None:
    """Write, read back and delete a small file where documents are stored; raises if any of
    the three fails (readyz, check_storage)."""
    storage = storage or default_storage
    payload = uuid.uuid4().hex.encode()
    name = storage.save(f"{PROBE_DIR}/{payload.decode()}.txt", ContentFile(payload))
    try:
        with storage.open(name, "rb") as handle:
            if handle.read() != payload:
                raise StorageUnavailable("the probe file read back differs")
    finally:
        storage.delete(name)


def save_once(name: str, data: bytes | IO[bytes], storage: Storage | None = None) -> None:
    """Store `data` (bytes, or an open file read from where it stands) under `name` unless it
    is there: for files addressed by their content's hash, never rewritten. Two processes
    storing the same name at once keep one copy."""
    storage = storage or default_storage
    if storage.exists(name):
        return
    saved = storage.save(name, ContentFile(data) if isinstance(data, bytes) else File(data))
    if saved != name:  # another process stored it in between: ours got another name
        storage.delete(saved)


class StorageUnavailableMiddleware:
    """A page whose files cannot be read or written now: 503 and a page that says so."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, StorageUnavailable):
            return None
        logger.error(
            "The file storage failed on %s %s: %s", request.method, request.path, exception
        )
        # The page lives in documents/ (files are that app's business), with its catalog.
        response = render(request, "documents/storage_unavailable.html", status=503)
        response["Retry-After"] = "60"
        return response
