"""What every API call goes through: one transaction per write, Idempotency-Key, the key's use.

- A POST runs in one transaction: an error answer (4xx) rolls back everything it wrote, so a
  refused request leaves no half-written data.
- With an `Idempotency-Key` header, the key is stored (unique per API key) in that same
  transaction with a hash of the request. A retry with the same key and the same request gets
  the first answer back (`Idempotent-Replayed: true`); with another request, 409. A concurrent
  retry waits on the unique index until the first transaction ends, then replays its answer.
  Only successful answers are stored: after an error the key is free for a corrected request.
- Each call leaves its trace on the key (api.keys.key_used).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from api.auth import request_key
from api.errors import error_response
from api.keys import key_used
from api.models import ApiKey, IdempotentRequest
from signflow.net import client_ip

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def request_hash(request: HttpRequest) -> str:
    """SHA-256 of what the request asks: method, path, and the body (JSON canonicalised, a
    multipart form by its fields and the content of its files)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.content_type == "multipart/form-data":
        for name in sorted(request.POST):
            for value in request.POST.getlist(name):
                digest.update(json.dumps([name, value]).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(json.dumps([name, upload.name]).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    body = request.body
    # Not JSON: the bytes as sent (the endpoint will refuse them).
    with contextlib.suppress(ValueError):
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


class _Taken(Exception):
    """Another request already holds this Idempotency-Key."""


def _replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(
        bytes(record.body), status=record.status_code, content_type=record.content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _run_once(
    run: Callable[..., HttpResponseBase], request: HttpRequest, key: ApiKey, value: str, kw: Any
) -> HttpResponseBase:
    digest = request_hash(request)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    # Waits here while a concurrent request with this key is in progress.
                    record = IdempotentRequest.objects.create(
                        api_key=key,
                        key=value,
                        request_hash=digest,
                        method=request.method or "",
                        path=request.path[:300],
                    )
            except IntegrityError:
                raise _Taken from None
            response = run(request, **kw)
            if response.status_code >= 400 or response.streaming:
                transaction.set_rollback(True)
                return response
            assert isinstance(response, HttpResponse)
            record.status_code = response.status_code
            record.content_type = response.get("Content-Type", "")
            record.body = response.content
            record.save(update_fields=["status_code", "content_type", "body"])
            return response
    except _Taken:
        pass
    existing = IdempotentRequest.objects.get(api_key=key, key=value)
    if existing.request_hash != digest:
        return error_response(
            "idempotency_key_reused",
            _("This Idempotency-Key was already used for a different request."),
            409,
            {"Idempotency-Key": [_("Use a new key for a new request.")]},
        )
    return _replay(existing)


def _write(run: Callable[..., HttpResponseBase], request: HttpRequest, kw: Any) -> HttpResponseBase:
    value = request.headers.get(HEADER)
    key = request_key(request)
    if value is not None and key is not None:
        value = value.strip()
        if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
            return error_response(
                "idempotency_key_invalid",
                _("An Idempotency-Key is 1 to 255 printable characters."),
                400,
                {"Idempotency-Key": [_("Use a new random value, e.g. a UUID.")]},
            )
        return _run_once(run, request, key, value, kw)
    with transaction.atomic():
        response = run(request, **kw)
        if response.status_code >= 400:
            transaction.set_rollback(True)
    return response


def api_call(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(run)
    def wrapper(request: HttpRequest, **kw: Any) -> HttpResponseBase:
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        response = _write(run, request, kw) if write else run(request, **kw)
        key = getattr(request, "_api_key", None)
        if isinstance(key, ApiKey) and response.status_code != 429:
            key_used(
                key=key,
                method=request.method or "",
                path=request.path,
                status_code=response.status_code,
                ip=client_ip(request),
                write=write,
            )
        return response

    return wrapper
