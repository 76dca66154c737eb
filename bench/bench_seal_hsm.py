"""What sealing with the key in a PKCS#11 token (SoftHSM2) costs next to the key in a file.

    DEBUG=1 .venv/bin/python bench/bench_seal_hsm.py [--pairs 6]

A 1-page PDF sealed with `pades.sign` (PAdES B-LTA with the built-in TSA, as a seal does)
alternately with the seal key in SoftHSM2 (project, RSA 3072 in the token) and in the keys
folder (floor, RSA 2048 loaded in memory), in a temporary token and keys folder. Needs
softhsm2 (scripts/system-deps.sh); without it the bench says so and stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5  # the token adds a session round trip and a longer key per signature


def _token(folder: Path) -> str | None:
    """A fresh SoftHSM2 token in `folder` (SOFTHSM2_CONF set); the module's path."""
    sys.path.insert(0, str(ROOT))
    from tests.softhsm import PIN, SO_PIN, TOKEN_LABEL, module_path

    module = module_path()
    if module is None or shutil.which("softhsm2-util") is None:
        return None
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL]
        + ["--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="ABAB pairs (at least 5)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="signflow-bench-hsm-"))
    try:
        module = _token(folder)
        if module is None:
            print("bench_seal_hsm: SoftHSM2 is missing (scripts/system-deps.sh): skipped")
            return
        _run(module, folder, max(args.pairs, 5))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(module: str, folder: Path, pairs: int) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="signflow.settings",
        DEBUG="1",
        SIGNFLOW_KEYS_DIR=str(folder / "keys"),
        TSA_URL="",
        SEAL_PKCS12_PATH="",
    )
    import django

    django.setup()
    import logging

    from django.test import override_settings

    # pyHanko warns on every seal that nothing is fetched for the DSS: by design here.
    logging.getLogger("pyhanko").setLevel(logging.ERROR)

    from _report import interleave, report

    from tests.softhsm import PIN, TOKEN_LABEL
    from tests.verification import pdfs
    from verification import keys, pades

    token = {
        "SIGNFLOW_SEAL_PKCS11_MODULE": module,
        "SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL": TOKEN_LABEL,
        "SIGNFLOW_SEAL_PKCS11_KEY_LABEL": "bench-seal",
        "SIGNFLOW_SEAL_PKCS11_PIN": PIN,
    }
    in_file = keys.get_key_material()
    with override_settings(**token):
        keys.rotate_seal_key(label="bench-seal")
        in_token = keys.get_key_material()
    pdf = pdfs.invoice_pdf()

    def seal(material: keys.KeyMaterial) -> None:
        pades.sign(
            pdf_bytes=pdf,
            material=material,
            reason="bench",
            location="bench",
            stamp_text="SignFlow bench",
            seal_box=None,
        )

    def with_token() -> None:
        with override_settings(**token):
            seal(in_token)

    measured = interleave(with_token, lambda: seal(in_file), pairs=pairs, warmup=1)
    print(f"bench_seal_hsm: {measured.summary()} ({pairs} pairs, ms per seal)")
    report(
        "seal-key-in-softhsm",
        project=min(measured.project) * 1000,
        floor=min(measured.floor) * 1000,
        ratio=measured.ratio,
        target=TARGET_RATIO,
    )


if __name__ == "__main__":
    main()
