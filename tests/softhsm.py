"""SoftHSM2 for the tests: a token in a temporary folder that holds the seal key.

The key and its certificate (issued by the root CA of the keys folder in use) are made by
`keys.rotate_seal_key`, as `manage.py rotate_seal_key` does for an administrator. One key per
keys folder: a token key certified by another root would not verify against this one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from verification import hsm, keys

MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "signflow-test"
PIN = "4321"
SO_PIN = "87654321"


def module_path() -> str | None:
    return next((path for path in MODULE_PATHS if Path(path).is_file()), None)


needs_softhsm = pytest.mark.skipif(
    module_path() is None or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is missing (scripts/system-deps.sh installs softhsm2)",
)


@dataclass
class SoftToken:
    module: str
    conf: Path
    label: str = TOKEN_LABEL
    pin: str = PIN
    provisioned: dict[str, str] = field(default_factory=dict)  # keys folder -> key label

    def configure(self, settings: Any, key_label: str, **overrides: str) -> None:
        """Point SignFlow's settings at this token and key (pytest-django's settings)."""
        values = {
            "SIGNFLOW_SEAL_PKCS11_MODULE": self.module,
            "SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL": self.label,
            "SIGNFLOW_SEAL_PKCS11_KEY_LABEL": key_label,
            "SIGNFLOW_SEAL_PKCS11_CERT_LABEL": "",
            "SIGNFLOW_SEAL_PKCS11_PIN": self.pin,
            "SEAL_PKCS12_PATH": "",
            **overrides,
        }
        for name, value in values.items():
            setattr(settings, name, value)
        keys.clear_cache()

    def seal_key(self, settings: Any) -> str:
        """The token's seal key for the keys folder in use, made on first use; its label."""
        folder = str(Path(settings.SIGNFLOW_KEYS_DIR).resolve())
        label = self.provisioned.get(folder)
        if label is None:
            label = "seal-" + hashlib.sha256(folder.encode()).hexdigest()[:12]
            self.configure(settings, label)
            keys.rotate_seal_key(label=label)
            self.provisioned[folder] = label
        self.configure(settings, label)
        return label


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftToken]:
    """An initialised SoftHSM2 token, its own configuration in SOFTHSM2_CONF."""
    module = module_path()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is missing (scripts/system-deps.sh installs softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL]
            + ["--pin", PIN, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
        )
        yield SoftToken(module=module, conf=conf)
        hsm.reset()


@pytest.fixture
def softhsm_seal(softhsm: SoftToken, settings: Any) -> Iterator[SoftToken]:
    """The seal key in SoftHSM2 for this test (the root and the TSA stay in the keys folder)."""
    softhsm.seal_key(settings)
    yield softhsm
    keys.clear_cache()
    hsm.reset()
