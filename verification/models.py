"""The registry of sealed PDFs and the keys that seal them.

`verification` imports no other SignFlow app: it takes PDF bytes and a metadata dict and gives
back a sealed PDF and its registry row.
"""

import contextlib
import datetime as dt
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class SealedDocument(models.Model):
    """One sealed PDF, addressed by its SHA-256. Rows and files are never overwritten."""

    code = models.CharField(_("public code"), max_length=32, unique=True)
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="sealed/")
    original_sha256 = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField()
    timestamp_token = models.BinaryField(blank=True)
    timestamp_time = models.DateTimeField(null=True, blank=True)
    tsa_name = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("sealed document")
        verbose_name_plural = _("sealed documents")
        ordering = ["-sealed_at"]

    def __str__(self) -> str:
        return f"{self.code} ({self.sha256[:12]})"

    def public_parties(self) -> list[dict[str, Any]]:
        """Parties as shown publicly: masked contact, method and signing time, nothing else."""
        parties = []
        for party in self.metadata.get("parties", []):
            signed_at = None
            with contextlib.suppress(ValueError):
                signed_at = dt.datetime.fromisoformat(str(party.get("signed_at", "")))
            parties.append(
                {
                    "role": party.get("role", ""),
                    "name": party.get("name", ""),
                    "company": party.get("company", ""),
                    "contact_masked": party.get("contact_masked", ""),
                    "channel": party.get("channel", ""),
                    "method": party.get("method", ""),
                    "signed_at": signed_at,
                }
            )
        return parties


class SealingKey(models.Model):
    """A seal certificate SignFlow has used (or made ready, after a rotation to a token key).

    Generated in the keys folder, loaded from PKCS#12 or held in a PKCS#11 token; `active` marks
    the one in use. Rows are never deleted: `manage.py rotate_seal_key` adds one per rotation.
    """

    class Source(models.TextChoices):
        GENERATED = "generated", _("Generated")
        PKCS12 = "pkcs12", _("PKCS#12 file")
        PKCS11 = "pkcs11", _("PKCS#11 token")

    source = models.CharField(max_length=10, choices=Source.choices)
    subject = models.CharField(max_length=300)
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    root_fingerprint_sha256 = models.CharField(max_length=64)
    not_after = models.DateTimeField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sealing key")
        verbose_name_plural = _("sealing keys")

    def __str__(self) -> str:
        return self.subject
