"""Isolated storage and keys for the verification tests, and a sealed invoice to check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.verification import pdfs
from verification import keys
from verification.models import SealedDocument
from verification.services import seal_pdf


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One key set for the whole run: generating RSA keys costs about a second.
    return tmp_path_factory.mktemp("keys") / "keys"


@pytest.fixture(autouse=True)
def isolated_storage(settings: Any, tmp_path: Path, keys_dir: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SIGNFLOW_KEYS_DIR = keys_dir
    settings.TSA_URL = ""
    settings.SEAL_PKCS12_PATH = ""
    settings.SIGNFLOW_BASE_URL = "https://signflow.example"


@pytest.fixture
def invoice() -> bytes:
    return pdfs.invoice_pdf()


@pytest.fixture
def sealed(db: None, invoice: bytes) -> SealedDocument:
    return seal_pdf(pdf_bytes=invoice, metadata=pdfs.metadata())


@pytest.fixture
def sealed_bytes(sealed: SealedDocument) -> bytes:
    with sealed.file.open("rb") as fh:
        return fh.read()


@pytest.fixture
def material(keys_dir: Path) -> keys.KeyMaterial:
    return keys.get_key_material()
