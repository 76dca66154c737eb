"""API keys, their audit trail, and the stored answers of idempotent requests.

A key is shown once, when it is created: the database keeps its public prefix (to find it and
to show it in lists) and the SHA-256 of the whole key. Keys are 256-bit random strings, so a
plain hash is enough (no salt or slow hash: there is nothing to brute-force).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        READ = "read", _("Read")
        SEND = "send", _("Create and send")
        TEMPLATES = "templates", _("Manage templates")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("employee"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def scope_labels(self) -> list[str]:
        return [str(self.Scope(scope).label) for scope in self.scopes if scope in self.Scope]


class ApiKeyEvent(models.Model):
    """The audit trail of a key: created, revoked, and its use (each write, reads sampled)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        REVOKED = "revoked", _("Revoked")
        USED = "used", _("Used")

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=300, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["key", "-id"], name="apikeyevent_key_tail")]

    def __str__(self) -> str:
        return f"{self.kind} {self.method} {self.path}"


class IdempotentRequest(models.Model):
    """The first answer to a POST that carried an Idempotency-Key, replayed to its retries.

    The row is inserted in the same transaction as the work it guards: a concurrent retry with
    the same key waits on the unique index until that transaction ends, then finds the answer.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class SendPlan(models.Model):
    """How an envelope created through the API is to be sent: its ordered parties, language,
    deadline, reminders and message. The signing services take all of it at send time
    (envelope_send); until then the envelope is a draft and this row holds the plan."""

    envelope = models.OneToOneField(
        "signing.Envelope", on_delete=models.CASCADE, related_name="api_plan"
    )
    parties = models.JSONField(default=list)
    language = models.CharField(max_length=2)
    deadline = models.DateTimeField(null=True, blank=True)
    reminder_every_days = models.PositiveIntegerField(default=0)
    reminder_max = models.PositiveIntegerField(default=3)
    note = models.TextField(blank=True)
    require_client_stamp = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"plan of envelope {self.envelope_id}"
