"""`python manage.py rotate_seal_key [--label LABEL]`: a new seal key and certificate.

Keys folder: the new key is used at once by every process; the old one moves to retired/.
PKCS#11 token: a new key is made in the token under LABEL (by default a dated label; on the
first run, `--label` with the configured SIGNFLOW_SEAL_PKCS11_KEY_LABEL creates the seal key
itself), then SIGNFLOW_SEAL_PKCS11_KEY_LABEL must name it and the processes restart.
Either way documents sealed before stay verifiable: their certificate chains to the same root.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from verification import hsm, keys


def _default_label() -> str:
    return f"{hsm.DEFAULT_KEY_LABEL}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"


class Command(BaseCommand):
    help = "Issue a new seal key and certificate from SignFlow's root; older seals stay valid."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--label",
            default="",
            help="PKCS#11 mode: the new key's label in the token (default: a dated label)",
        )
        parser.add_argument(
            "--existing-key",
            action="store_true",
            help="PKCS#11 mode: certify the key already in the token under --label (imported "
            "with the HSM's tools, its public key too) instead of creating one",
        )

    def handle(self, *_args: Any, **options: Any) -> None:
        token = hsm.configured()
        if (options["label"] or options["existing_key"]) and token is None:
            raise CommandError(
                "--label and --existing-key are for a PKCS#11 token (SIGNFLOW_SEAL_PKCS11_MODULE)."
            )
        if options["existing_key"] and not options["label"]:
            raise CommandError("--existing-key needs the --label of the key in the token.")
        label = options["label"] or (_default_label() if token is not None else "")
        previous = self._current()
        try:
            rotation = keys.rotate_seal_key(label=label, existing_key=options["existing_key"])
        except keys.KeysError as exc:
            raise CommandError(str(exc)) from exc
        keys.record_certificate(
            rotation.certificate, root=rotation.root, source=rotation.source, active=rotation.active
        )
        self._report(rotation, previous)

    def _current(self) -> str:
        """The fingerprint of the seal certificate in use before, if there is one."""
        current = keys.current_seal_certificate()
        return keys.fingerprint(current) if current is not None else ""

    def _report(self, rotation: keys.Rotation, previous: str) -> None:
        cert = rotation.certificate
        self.stdout.write(f"new seal certificate: {cert.subject.rfc4514_string()}")
        self.stdout.write(f"sha256: {keys.fingerprint(cert)}")
        self.stdout.write(f"valid until: {cert.not_valid_after_utc.isoformat()}")
        if previous and previous != keys.fingerprint(cert):
            self.stdout.write(f"previous certificate (still verifiable): {previous}")
        if rotation.source == "pkcs11" and not rotation.active:
            self.stdout.write(
                f"The key is in the token under the label {rotation.label!r}. To seal with it, "
                f"set SIGNFLOW_SEAL_PKCS11_KEY_LABEL={rotation.label} (and "
                "SIGNFLOW_SEAL_PKCS11_CERT_LABEL if you set it) on every web and worker "
                "process, then restart them."
            )
