"""An S3 storage that cannot be used (no such bucket, a key it refuses, nothing listening):
/readyz says `storage` fails fast, with S3's answer in the log and not in the body;
check_storage stops with that answer; a seal records a storage error; a missing object stays
"missing". Bad settings stop start-up with a message."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client

from signflow.storage import StorageUnavailable, default_storage_setting
from tests.storage.conftest import Bucket, MotoServer, free_port, s3_env, use_s3
from tests.verification import pdfs
from verification.services import SealingError, seal_pdf

pytestmark = pytest.mark.django_db
FAST = {"AWS_S3_MAX_ATTEMPTS": "1", "AWS_S3_CONNECT_TIMEOUT": "1", "AWS_S3_READ_TIMEOUT": "2"}


def _broken(case: str, moto: MotoServer, forbidden: MotoServer) -> tuple[dict[str, str], str]:
    """The environment of a node whose storage fails, and what S3 (or boto3) answers."""
    if case == "missing bucket":
        return s3_env(moto, "no-such-bucket", **FAST), "NoSuchBucket"
    if case == "wrong credentials":
        return s3_env(forbidden, "signflow", **FAST), "403 (Forbidden); check AWS_ACCESS_KEY_ID"
    closed = s3_env(moto, "signflow", **FAST)
    closed["AWS_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    return closed, "Could not connect to the endpoint URL"


CASES = ["missing bucket", "wrong credentials", "nothing listening"]


@pytest.mark.parametrize("case", CASES)
def test_readyz_says_storage_fails_and_the_log_says_why(
    case: str, moto: MotoServer, forbidden: MotoServer, settings: Any, client: Client, caplog
):
    env, answer = _broken(case, moto, forbidden)
    use_s3(settings, env)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="signflow.views"):
        response = client.get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["failed"] == ["storage"]
    assert body["checks"]["storage"]["status"] == "fail"
    text = response.content.decode()
    assert env["AWS_STORAGE_BUCKET_NAME"] not in text and "127.0.0.1" not in text
    logged = [r for r in caplog.records if "storage check failed" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    error = logged[0].exc_info[1]
    assert isinstance(error, StorageUnavailable) and answer in str(error)
    assert env["AWS_SECRET_ACCESS_KEY"] not in str(error)


@pytest.mark.parametrize("case", CASES)
def test_check_storage_stops_with_the_storage_s_answer(
    case: str, moto: MotoServer, forbidden: MotoServer, settings: Any
):
    env, answer = _broken(case, moto, forbidden)
    use_s3(settings, env)
    with pytest.raises(CommandError) as raised:
        call_command("check_storage")
    message = str(raised.value)
    assert message.startswith("The storage cannot be used (signflow.s3.S3Storage)")
    assert answer in message
    assert env["AWS_STORAGE_BUCKET_NAME"] in message


def test_check_storage_passes_on_a_good_bucket(s3: Bucket, capsys):
    call_command("check_storage")
    assert "0 sealed documents checked, 0 with a problem" in capsys.readouterr().out
    assert s3.object_names() == []  # the probe file is gone


def test_a_seal_on_a_refused_storage_is_a_storage_error(forbidden: MotoServer, settings: Any):
    use_s3(settings, s3_env(forbidden, "signflow", **FAST))
    with pytest.raises(SealingError) as raised:
        seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata())
    assert raised.value.code == "storage_failed"
    assert "in bucket 'signflow' failed: 403" in str(raised.value)


@pytest.mark.usefixtures("s3")
def test_a_missing_object_is_missing_not_an_outage():
    with pytest.raises(FileNotFoundError):
        default_storage.open("documents/none.pdf", "rb")
    assert default_storage.exists("documents/none.pdf") is False


def test_names_are_never_overwritten(s3: Bucket):
    from django.core.files.base import ContentFile

    first = default_storage.save("values/a.png", ContentFile(b"one"))
    second = default_storage.save("values/a.png", ContentFile(b"two"))
    assert first == "values/a.png" and second != first
    assert s3.read(first) == b"one" and s3.read(second) == b"two"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SIGNFLOW_STORAGE": "dropbox"}, "SIGNFLOW_STORAGE must be one of filesystem, s3"),
        ({"SIGNFLOW_STORAGE": "s3"}, "SIGNFLOW_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        (
            {"SIGNFLOW_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_MAX_ATTEMPTS": "x"},
            "AWS_S3_MAX_ATTEMPTS must be an integer",
        ),
    ],
)
def test_bad_settings_stop_start_up_with_a_message(env: dict[str, str], says: str):
    with pytest.raises(ImproperlyConfigured, match=says):
        default_storage_setting(env)


def test_the_settings_default_to_the_file_system_and_a_private_bucket():
    assert default_storage_setting({}) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options = default_storage_setting(
        {
            "SIGNFLOW_STORAGE": "S3",
            "AWS_STORAGE_BUCKET_NAME": "b",
            "AWS_S3_ENDPOINT_URL": "http://m",
        }
    )["OPTIONS"]
    assert options["default_acl"] == "private"
    assert options["querystring_expire"] == 300
    assert options["file_overwrite"] is False
    assert options["addressing_style"] == "path"
    assert "access_key" not in options  # boto3 finds credentials itself (instance role)
