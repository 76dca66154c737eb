"""pdfsig with our root CA trusted: an NSS database holding only that root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

needs_nss = pytest.mark.skipif(
    shutil.which("pdfsig") is None or shutil.which("certutil") is None,
    reason="pdfsig or certutil missing (scripts/system-deps.sh installs them)",
)


def trusting(root_pem: bytes, folder: Path) -> str:
    """An NSS database in `folder` that trusts `root_pem`; the value for pdfsig -nssdir."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root.pem").write_bytes(root_pem)
    database = f"sql:{folder}"
    subprocess.run(["certutil", "-N", "-d", database, "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", database, "-n", "signflow-root", "-t", "CT,C,C", "-a"]
        + ["-i", str(folder / "root.pem")],
        check=True,
    )
    return database


def pdfsig(path: Path, nssdir: str) -> str:
    return subprocess.run(
        ["pdfsig", "-nssdir", nssdir, str(path)], capture_output=True, text=True, check=False
    ).stdout
