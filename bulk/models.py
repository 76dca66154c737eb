"""Bulk send: one template (or one document with its fields) to many recipients.

A `Batch` is what the employee uploaded and how its columns map; each line of the file is a
`BulkRow`. A row becomes one envelope, at most once: the worker that sends it holds the row's
lock for the whole transaction that creates and sends its envelope, and the row's status and
envelope are written in that same transaction (bulk.services.row_send_next).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Batch(models.Model):
    class Source(models.TextChoices):
        TEMPLATE = "template", _("Template")
        DOCUMENT = "document", _("Document with fields")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")  # uploaded, being mapped and checked
        SENDING = "sending", _("Sending")
        DONE = "done", _("Sent")

    title = models.CharField(_("title"), max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices)
    template = models.ForeignKey(
        "documents.DocumentTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    document = models.ForeignKey(
        "documents.Document", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_batches"
    )
    company = models.ForeignKey(
        "crm.OwnCompany", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    header = models.JSONField(default=list)  # the file's column names, in order
    # Column index (as a string) -> target ("client.name", "var:deal.title", "field:text-1"...).
    mapping = models.JSONField(default=dict, blank=True)
    # The fields the template or document places: [{"key", "kind", "role", "label"}].
    fields = models.JSONField(default=list, blank=True)
    # Send options (language, deadline_days, reminders, note) and the company signer.
    options = models.JSONField(default=dict, blank=True)
    checked = models.BooleanField(default=False, help_text="Rows checked against the mapping.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk send")
        verbose_name_plural = _("bulk sends")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class BulkRow(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")  # read, not checked yet or checked fine
        INVALID = "invalid", _("Invalid")  # refused by the checks: never sent
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")  # valid, but creating or sending the envelope failed

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(help_text="Line number in the uploaded file.")
    cells = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    envelope = models.OneToOneField(
        "signing.Envelope",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bulk_row",
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "line"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="bulk_row_line_unique"),
        ]
        indexes = [models.Index(fields=["batch", "status"], name="bulk_row_batch_status")]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line}"


class BatchEvent(models.Model):
    """The batch's own audit: created, configured (columns and options saved, rows checked),
    sent, a whole-batch cancel or reminder and its outcome. Each envelope's own trail
    (signing.Event) records what happened to it."""

    class Type(models.TextChoices):
        CREATED = "created", _("Uploaded")
        CONFIGURED = "configured", _("Columns and options saved")
        SENT = "sent", _("Sending started")
        CANCEL = "cancel", _("Cancel requested")
        REMIND = "remind", _("Reminder requested")
        FINISHED = "finished", _("Finished")

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=10, choices=Type.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.type}"
