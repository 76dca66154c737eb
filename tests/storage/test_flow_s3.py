"""The demo flow with every file in an S3 bucket (moto server on loopback): invoice -> director
-> client -> sealed PDF -> downloads -> verification -> check_storage, through HTTP. The objects
are in the bucket, private, and nothing is written under MEDIA_ROOT."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from crm.models import Invoice
from signing.models import Envelope, FieldValue, Message
from tests.api.conftest import api_for
from tests.signing.conftest import last_message, link_token
from tests.signing.test_flow import _complete
from tests.storage.conftest import Bucket, MotoServer, files_under, s3_env, use_s3
from tests.verification import pdfs

pytestmark = pytest.mark.django_db(transaction=True)


def _private(bucket: Bucket, key: str) -> bool:
    grants = bucket.client().get_object_acl(Bucket=bucket.name, Key=key)["Grants"]
    public = {"http://acs.amazonaws.com/groups/global/AllUsers"}
    public.add("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
    return not any(grant["Grantee"].get("URI") in public for grant in grants)


def test_the_demo_flow_keeps_every_file_in_the_bucket(
    s3: Bucket,
    forbidden: MotoServer,
    sender: User,
    sender_client: Client,
    invoice: Invoice,
    media_root: Path,
    tmp_path: Path,
    settings: Any,
):
    envelope = _complete(sender_client, invoice)
    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    assert envelope.sealed is not None

    keys = s3.object_names()
    document = envelope.document
    assert document.pdf.name in keys
    assert envelope.sealed.file.name in keys
    images = [v.image.name for v in FieldValue.objects.filter(party__envelope=envelope) if v.image]
    assert images and set(images) <= set(keys)  # signatures and the stamp
    assert not [key for key in keys if key.startswith(("sealing/prepared/", "readyz/"))]
    assert all(_private(s3, key) for key in keys)

    # The sealed PDF in the bucket is the PAdES B-LTA file, checked by poppler.
    sealed = s3.read(envelope.sealed.file.name)
    (tmp_path / "sealed.pdf").write_bytes(sealed)
    pdfsig = subprocess.run(
        ["pdfsig", str(tmp_path / "sealed.pdf")], capture_output=True, text=True
    )
    pdfs.assert_pdfsig_lta(pdfsig.stdout)

    # Served by our views (access checked), streamed from the bucket: no redirect to it.
    download = sender_client.get(f"/envelopes/{envelope.pk}/download/")
    assert download.status_code == 200
    assert download.streaming and download.getvalue() == sealed
    token = link_token(last_message(template="invitation", recipient="+33698765432"))
    signer = Client().get(f"/s/{token}/download/")
    assert signer.status_code == 200 and signer.getvalue() == sealed
    assert Client().get(f"/envelopes/{envelope.pk}/download/").status_code == 302  # to login
    api = api_for(sender)
    assert api.get(f"/envelopes/{envelope.pk}/sealed.pdf").content == sealed

    # A page image: rendered once, stored in the bucket, then read from it.
    page = sender_client.get(f"/documents/{document.pk}/pages/1.png")
    assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
    assert s3.read(f"previews/{document.sha256}/1-page.png") == page.content

    # The public verification page finds the sealed file's registry row.
    result = Client().post("/verify/", {"file": _upload(tmp_path / "sealed.pdf")})
    assert result.context["result"].verdict == "authentic"

    # The completion email carried the PDF read from the bucket.
    attached = [m.attachments[0] for m in mail.outbox if m.attachments]
    assert attached and attached[-1][1] == sealed
    assert Message.objects.filter(envelope=envelope, template="completed").count() >= 2
    call_command("check_storage")

    assert not media_root.exists() or files_under(media_root) == []

    # An object lost from the bucket: check_storage names it and fails.
    s3.client().delete_object(Bucket=s3.name, Key=envelope.sealed.file.name)
    with pytest.raises(CommandError, match="1 with a problem"):
        call_command("check_storage", stderr=(err := io.StringIO()))
    assert f"missing from storage ({envelope.sealed.file.name})" in err.getvalue()
    s3.client().put_object(Bucket=s3.name, Key=envelope.sealed.file.name, Body=sealed)

    # The storage refuses our key now (a rotated key): pages and the API say so, no traceback.
    use_s3(settings, s3_env(forbidden, s3.name, AWS_S3_MAX_ATTEMPTS="1"))
    page = sender_client.get(f"/envelopes/{envelope.pk}/download/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 503 and page["Retry-After"] == "60"
    assert "cannot reach its file storage" in page.content.decode()
    assert "Traceback" not in page.content.decode() and s3.name not in page.content.decode()
    refused = api.get(f"/envelopes/{envelope.pk}/sealed.pdf")
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "storage_unavailable"


def _upload(path: Path) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(path.name, path.read_bytes(), "application/pdf")
