"""Word and OpenDocument uploads: converted by LibreOffice when `soffice` is installed."""

import os
import stat
import sys
from pathlib import Path

import pytest

from documents.errors import DocumentError
from documents.models import Document
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, stored_files, upload

DOCX = b"PK\x03\x04" + b"\x00" * 200  # what matters here is the ZIP signature

# A stand-in for LibreOffice: writes <outdir>/<name>.pdf like `soffice --convert-to pdf`.
FAKE_SOFFICE = """#!{python}
import sys, time, pathlib
args = sys.argv[1:]
mode = {mode!r}
if mode == "hang":
    time.sleep(30)
if mode == "fail":
    sys.exit(1)
outdir = pathlib.Path(args[args.index("--outdir") + 1])
source = pathlib.Path(args[-1])
(outdir / (source.stem + ".pdf")).write_bytes(pathlib.Path({pdf!r}).read_bytes())
"""


@pytest.fixture
def fake_soffice(tmp_path: Path, monkeypatch):
    def install(mode: str = "ok") -> None:
        folder = tmp_path / "bin"
        folder.mkdir(exist_ok=True)
        pdf = tmp_path / "converted.pdf"
        pdf.write_bytes(blank_pdf(2))
        script = folder / "soffice"
        script.write_text(FAKE_SOFFICE.format(python=sys.executable, mode=mode, pdf=str(pdf)))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    return install


def create(sender, data: bytes = DOCX, name: str = "contrat.docx") -> Document:
    return document_create_from_upload(
        uploaded_file=upload(data, name, "application/octet-stream"), title="C", creator=sender
    )


def test_without_libreoffice_a_docx_gets_the_save_as_pdf_message(sender, media_root, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DocumentError, match="save the file as PDF"):
        create(sender)
    assert stored_files(media_root) == []


def test_with_libreoffice_a_docx_becomes_a_pdf_document(sender, fake_soffice):
    fake_soffice()
    document = create(sender)
    assert document.page_count == 2
    assert document.fields.count() == 3


def test_a_conversion_that_fails_gets_a_clear_message(sender, fake_soffice, media_root):
    fake_soffice("fail")
    with pytest.raises(DocumentError, match="could not be converted"):
        create(sender, name="contrat.odt")
    assert Document.objects.count() == 0 and stored_files(media_root) == []


def test_a_conversion_that_hangs_is_killed_after_the_timeout(
    sender, fake_soffice, settings, media_root
):
    settings.SIGNFLOW_SOFFICE_TIMEOUT = 1
    fake_soffice("hang")
    with pytest.raises(DocumentError, match="took too long"):
        create(sender, name="contrat.doc", data=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50)
    assert Document.objects.count() == 0


def test_a_file_named_docx_that_is_not_one_is_not_handed_to_libreoffice(sender, fake_soffice):
    fake_soffice()
    with pytest.raises(DocumentError, match="save the file as PDF"):
        create(sender, data=b"#!/bin/sh\necho hostile\n")
