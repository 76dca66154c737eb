"""The demo flow with every file in an S3 bucket (moto server) and the seal key in SoftHSM2:
the deployment issue 16 asks for, end to end. The sealed file in the bucket is authentic on
the verification page, and pdfsig trusting only our root calls its seal valid and trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from crm.models import Invoice
from signing.models import Envelope
from tests import nss
from tests.signing.test_flow import _complete
from tests.softhsm import needs_softhsm
from tests.storage.conftest import Bucket, files_under
from tests.verification import pdfs
from verification import keys
from verification.models import SealingKey

pytestmark = [pytest.mark.django_db(transaction=True), needs_softhsm, nss.needs_nss]


@pytest.mark.usefixtures("softhsm_seal")
def test_the_demo_flow_with_s3_storage_and_the_seal_key_in_softhsm(
    s3: Bucket,
    sender_client: Client,
    invoice: Invoice,
    media_root: Path,
    tmp_path: Path,
    settings: Any,
) -> None:
    material = keys.get_key_material()
    assert material.source == "pkcs11" and material.seal_key is None
    assert "S3" in settings.STORAGES["default"]["BACKEND"]

    envelope = _complete(sender_client, invoice)

    assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
    assert envelope.sealed is not None
    sealed = s3.read(envelope.sealed.file.name)
    assert envelope.sealed.metadata["seal_certificate_sha256"] == keys.fingerprint(
        material.seal_cert
    )
    assert SealingKey.objects.get(active=True).source == "pkcs11"

    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    out = nss.pdfsig(path, nss.trusting(material.root_pem(), tmp_path / "nss"))
    pdfs.assert_pdfsig_lta(out)
    assert "Certificate is Trusted" in pdfs.pdfsig_signatures(out)[0], out

    upload = SimpleUploadedFile("sealed.pdf", sealed, "application/pdf")
    result = Client().post("/verify/", {"file": upload})
    assert result.context["result"].verdict == "authentic"

    ready = Client().get("/readyz")
    assert ready.status_code == 200, ready.content
    checks = ready.json()["checks"]
    assert checks["storage"]["status"] == "ok" and checks["keys"]["status"] == "ok"
    assert not media_root.exists() or files_under(media_root) == []
