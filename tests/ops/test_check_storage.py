"""manage.py check_storage: every sealed document's file is in storage with its registered hash."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.verification import pdfs
from tests.verification.conftest import (  # noqa: F401  (fixtures)
    isolated_storage,
    keys_dir,
)
from verification.models import SealedDocument
from verification.services import seal_pdf

pytestmark = pytest.mark.django_db


def _run() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("check_storage", "--verbose", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def sealed_three() -> list[SealedDocument]:
    return [
        seal_pdf(
            pdf_bytes=pdfs.invoice_pdf(amount=f"{i + 1} 000,00 €"),
            metadata=pdfs.metadata(code=f"K7M2P9XQ4TA{i}"),
        )
        for i in range(3)
    ]


def test_it_passes_when_every_file_is_there_and_unchanged(sealed_three):
    out, err = _run()
    assert "3 sealed documents checked, 0 with a problem" in out
    assert err == ""
    for document in sealed_three:
        assert f"{document.code}: ok" in out


def test_it_names_a_deleted_and_a_tampered_file_and_fails(sealed_three):
    deleted, tampered, intact = sealed_three
    deleted.file.storage.delete(deleted.file.name)
    with tampered.file.storage.open(tampered.file.name, "rb") as fh:
        data = bytearray(fh.read())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    path = tampered.file.path
    with open(path, "wb") as fh:
        fh.write(bytes(data))

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="3 sealed documents checked, 2 with a problem"):
        call_command("check_storage", stdout=out, stderr=err)
    problems = err.getvalue()
    assert f"{deleted.code}: missing from storage ({deleted.file.name})" in problems
    assert f"{tampered.code}: changed ({tampered.file.name})" in problems
    assert f"registered {tampered.sha256}" in problems
    assert intact.code not in problems
