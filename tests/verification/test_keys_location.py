"""The keys live outside MEDIA_ROOT; an older install's MEDIA_ROOT/keys moves there on first use."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.threads import run_in_threads
from tests.verification import pdfs
from verification import keys
from verification.checks import keys_location_check
from verification.models import SealedDocument
from verification.services import seal_pdf, verify_pdf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def layout(settings: Any, tmp_path: Path) -> dict[str, Path]:
    """An older install: MEDIA_ROOT/keys; the new folder: var/keys."""
    media = tmp_path / "media"
    paths = {"media": media, "legacy": media / "keys", "new": tmp_path / "var" / "keys"}
    settings.MEDIA_ROOT = media
    settings.SIGNFLOW_LEGACY_KEYS_DIR = paths["legacy"]
    settings.SIGNFLOW_KEYS_DIR = paths["new"]
    keys.clear_cache()
    yield paths
    keys.clear_cache()


def _seal_with_legacy_keys(settings: Any, layout: dict[str, Path]) -> SealedDocument:
    """A document sealed by the older install, its keys in MEDIA_ROOT/keys."""
    settings.SIGNFLOW_KEYS_DIR = layout["legacy"]
    document = seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(code="LEGACYKEYS01"))
    settings.SIGNFLOW_KEYS_DIR = layout["new"]
    keys.clear_cache()
    return document


def test_the_default_keys_folder_is_outside_media_root(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNFLOW_", "MEDIA_"))}
    env.update(SIGNFLOW_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="signflow.settings")
    env["DEBUG"] = "1"
    script = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([str(s.SIGNFLOW_KEYS_DIR), str(s.MEDIA_ROOT)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    keys_dir, media_root = json.loads(out.stdout)
    assert keys_dir == str(tmp_path / "var" / "keys")
    assert not Path(keys_dir).is_relative_to(media_root)


def test_legacy_keys_move_on_first_use_and_old_seals_stay_authentic(
    settings: Any, layout: dict[str, Path], client: Client
) -> None:
    document = _seal_with_legacy_keys(settings, layout)
    old_root = (layout["legacy"] / "root.pem").read_bytes()

    material = keys.get_key_material()

    assert not layout["legacy"].exists()
    assert (layout["new"] / "root.pem").read_bytes() == old_root
    assert (layout["new"] / "tsa" / "tsa.key").exists()
    assert layout["new"].stat().st_mode & 0o777 == 0o700
    assert (layout["new"] / "root.key").stat().st_mode & 0o777 == 0o600
    assert keys.fingerprint(material.seal_cert) == document.metadata["seal_certificate_sha256"]
    with document.file.open("rb") as fh:
        assert verify_pdf(data=fh).verdict == "authentic"
    assert client.get("/verify/root.pem").content == old_root


def test_readyz_moves_waiting_legacy_keys_and_says_ok(
    settings: Any, layout: dict[str, Path], client: Client
) -> None:
    _seal_with_legacy_keys(settings, layout)
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert (layout["new"] / "root.key").exists() and not layout["legacy"].exists()


def test_concurrent_first_uses_move_the_keys_once(settings: Any, layout: dict[str, Path]) -> None:
    _seal_with_legacy_keys(settings, layout)
    root = (layout["legacy"] / "root.key").read_bytes()
    moved = run_in_threads(lambda: keys.move_legacy_keys(layout["new"]), 4)
    assert sorted(moved) == [False, False, False, True]
    assert (layout["new"] / "root.key").read_bytes() == root


def test_an_interrupted_move_is_finished_by_the_next_use(
    settings: Any, layout: dict[str, Path]
) -> None:
    _seal_with_legacy_keys(settings, layout)
    # A crash after some files were copied: root.key, copied last, is not there yet.
    layout["new"].mkdir(parents=True)
    (layout["new"] / "seal.pem").write_bytes((layout["legacy"] / "seal.pem").read_bytes())
    assert keys.move_legacy_keys(layout["new"])
    assert (layout["new"] / "root.key").read_bytes()
    assert keys.get_key_material().source == "generated"


def test_a_finished_copy_whose_old_folder_survived_is_removed(
    settings: Any, layout: dict[str, Path]
) -> None:
    _seal_with_legacy_keys(settings, layout)
    keys._copy_into(layout["legacy"], layout["new"])  # then a crash before the removal
    assert keys.move_legacy_keys(layout["new"])
    assert not layout["legacy"].exists()


def test_different_keys_in_both_folders_keep_the_new_and_say_so(
    settings: Any, layout: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    _seal_with_legacy_keys(settings, layout)
    settings.SIGNFLOW_LEGACY_KEYS_DIR = layout["media"] / "nowhere"
    new_root = keys.get_key_material().root_cert  # a fresh set in the new folder
    settings.SIGNFLOW_LEGACY_KEYS_DIR = layout["legacy"]
    keys.clear_cache()
    with caplog.at_level(logging.WARNING, logger="verification.keys"):
        assert keys.get_key_material().root_cert == new_root
    assert "differ" in caplog.text
    assert (layout["legacy"] / "root.key").exists()
    assert [m.id for m in keys_location_check()] == ["verification.W002"]


def test_the_system_check_warns_about_keys_inside_media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SIGNFLOW_LEGACY_KEYS_DIR = tmp_path / "media" / "keys"
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "var" / "keys"
    settings.SIGNFLOW_TSA_KEYS_DIR = ""
    assert keys_location_check() == []
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "media" / "private" / "keys"
    assert [m.id for m in keys_location_check()] == ["verification.W001"]
    settings.SIGNFLOW_KEYS_DIR = tmp_path / "var" / "keys"
    settings.SIGNFLOW_TSA_KEYS_DIR = str(tmp_path / "media" / "tsa")
    messages = keys_location_check()
    assert [m.id for m in messages] == ["verification.W001"]
    assert "SIGNFLOW_TSA_KEYS_DIR" in messages[0].msg
