"""System checks for the sealing keys: where they live and how the token is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def keys_location_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Keys inside MEDIA_ROOT would share its backups, sync jobs and any web server rule."""
    del app_configs, kwargs  # Django's check signature
    messages: list[checks.CheckMessage] = []
    media = Path(settings.MEDIA_ROOT)
    folders = {"SIGNFLOW_KEYS_DIR": Path(settings.SIGNFLOW_KEYS_DIR)}
    if settings.SIGNFLOW_TSA_KEYS_DIR:
        folders["SIGNFLOW_TSA_KEYS_DIR"] = Path(settings.SIGNFLOW_TSA_KEYS_DIR)
    for name, folder in folders.items():
        if _inside(folder, media):
            messages.append(
                checks.Warning(
                    f"{name} ({folder}) is inside MEDIA_ROOT ({media}): the private keys of "
                    "the seal, the TSA and the root CA would travel with the documents.",
                    hint=f"Point {name} to a folder outside MEDIA_ROOT (by default "
                    "SIGNFLOW_VAR_DIR/keys) and move the keys there.",
                    id="verification.W001",
                )
            )
    legacy = Path(settings.SIGNFLOW_LEGACY_KEYS_DIR or media / "keys")
    if (legacy / "root.key").exists() and not _inside(Path(settings.SIGNFLOW_KEYS_DIR), legacy):
        messages.append(
            checks.Warning(
                f"Keys are still in {legacy}, inside MEDIA_ROOT.",
                hint=f"They move to SIGNFLOW_KEYS_DIR ({settings.SIGNFLOW_KEYS_DIR}) on first "
                "use; if that folder already has other keys, keep the ones your sealed "
                "documents chain to and move the other folder out of MEDIA_ROOT.",
                id="verification.W002",
            )
        )
    return messages


def pkcs11_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A PKCS#11 module needs the token's label; the PIN comes from the environment."""
    del app_configs, kwargs  # Django's check signature
    if not settings.SIGNFLOW_SEAL_PKCS11_MODULE:
        return []
    if not Path(settings.SIGNFLOW_SEAL_PKCS11_MODULE).is_file():
        return [
            checks.Error(
                f"SIGNFLOW_SEAL_PKCS11_MODULE ({settings.SIGNFLOW_SEAL_PKCS11_MODULE}) is not a "
                "file.",
                hint="Name the PKCS#11 library (.so) of your HSM's vendor.",
                id="verification.E001",
            )
        ]
    if not settings.SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL:
        return [
            checks.Error(
                "SIGNFLOW_SEAL_PKCS11_MODULE is set but SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL is not.",
                hint="Set the label of the token that holds the seal key.",
                id="verification.E002",
            )
        ]
    return []
