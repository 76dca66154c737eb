"""`manage.py verify FILE`: exit 0 only for an authentic file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.verification import pdfs
from verification.models import SealedDocument


def run(path: Path, *args: str) -> int:
    try:
        call_command("verify", str(path), *args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_it_exits_zero_for_an_authentic_file(
    sealed: SealedDocument, sealed_bytes: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed_bytes)
    assert run(path) == 0
    assert "verdict: authentic" in capsys.readouterr().out


def test_it_exits_one_for_a_modified_file(
    sealed: SealedDocument, sealed_bytes: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "appended.pdf"
    path.write_bytes(pdfs.append_incremental_update(sealed_bytes))
    assert run(path) == 1
    assert "verdict: modified" in capsys.readouterr().out


def test_it_exits_non_zero_for_an_unknown_file_and_prints_json(
    db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.pdf"
    path.write_bytes(pdfs.invoice_pdf())
    assert run(path, "--json") == 2
    assert json.loads(capsys.readouterr().out)["verdict"] == "unknown"


def test_it_reports_a_missing_file_without_a_traceback(db: None, tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Cannot read"):
        call_command("verify", str(tmp_path / "missing.pdf"))
