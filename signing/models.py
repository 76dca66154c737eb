"""Envelopes, their parties, the values they fill in, the audit trail and the outbox."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Crockford-style alphabet without look-alikes: codes are read aloud and typed from paper.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_public_id() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))


class Envelope(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING_COMPANY = "awaiting_company", _("Awaiting our signature")
        AWAITING_CLIENT = "awaiting_client", _("Awaiting client")
        SEALING = "sealing", _("Sealing")
        # Every party signed but the seal cannot be made without someone acting (see
        # sealing_error_kind); "retry sealing" moves it back to `sealing`.
        SEALING_FAILED = "sealing_failed", _("Sealing failed")
        COMPLETED = "completed", _("Completed")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", pgettext_lazy("signing", "Cancelled")
        EXPIRED = "expired", _("Expired")

    OPEN_STATUSES = (Status.AWAITING_COMPANY, Status.AWAITING_CLIENT)
    # An envelope in one of these is "the" envelope of its source (an invoice, a deal's
    # template): "Send for signature" reopens it instead of making another one.
    CURRENT_STATUSES = (
        Status.DRAFT,
        Status.AWAITING_COMPANY,
        Status.AWAITING_CLIENT,
        Status.SEALING,
        Status.SEALING_FAILED,
        Status.COMPLETED,
    )
    FINAL_STATUSES = (Status.COMPLETED, Status.DECLINED, Status.CANCELLED, Status.EXPIRED)

    class Language(models.TextChoices):
        FR = "fr", _("French")
        EN = "en", _("English")

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    document = models.OneToOneField(
        "documents.Document", on_delete=models.PROTECT, related_name="envelope"
    )
    title = models.CharField(pgettext_lazy("signing", "title"), max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    language = models.CharField(
        _("document language"), max_length=2, choices=Language.choices, default=Language.FR
    )
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    reminder_every_days = models.PositiveIntegerField(
        _("remind every (days)"), default=0, help_text=_("0 means never.")
    )
    reminder_max = models.PositiveIntegerField(_("maximum reminders"), default=3)
    reminders_sent = models.PositiveIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(_("message to the signers"), blank=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="envelopes",
        verbose_name=_("responsible employee"),
    )
    company = models.ForeignKey(
        "crm.OwnCompany", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counterparty = models.ForeignKey(
        "crm.Counterparty", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deal = models.ForeignKey(
        "crm.Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="envelopes"
    )
    # What the document was made from, when it was made by "Send for signature":
    # "invoice:<id>" or "deal:<id>:template:<id>"; empty for uploads. See CURRENT_STATUSES.
    source_key = models.CharField(max_length=60, blank=True, default="")
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)
    sealing_attempts = models.PositiveIntegerField(default=0)
    sealing_error = models.TextField(blank=True)  # technical detail, for the administrator
    # What failed last (verification.services.SealingError): input | signer | tsa | storage.
    sealing_error_kind = models.CharField(max_length=10, blank=True)
    sealing_error_code = models.CharField(max_length=40, blank=True)
    # Temporary failures back off: the sweep seals again only once this time has passed.
    seal_next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The striped document with its certificate, stored by hash (verification.PreparedSeal):
    # a retry after a TSA failure signs it again instead of flattening and rendering again.
    seal_prepared = models.JSONField(default=dict, blank=True)
    sealed = models.ForeignKey(
        "verification.SealedDocument",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("envelope")
        verbose_name_plural = _("envelopes")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-status_changed_at"]),
            models.Index(fields=["responsible", "status"]),
            # The board: one index walk per status (and per employee) in keyset order.
            models.Index(
                fields=["status", "-status_changed_at", "-id"], name="envelope_board_keyset"
            ),
            models.Index(
                fields=["responsible", "status", "-status_changed_at", "-id"],
                name="envelope_board_mine_keyset",
            ),
            # The list view's default order, and the board's "changed since" probes.
            models.Index(fields=["-status_changed_at", "-id"], name="envelope_changed_keyset"),
            models.Index(
                fields=["responsible", "-status_changed_at"], name="envelope_mine_changed"
            ),
            models.Index(fields=["last_reminded_at"], name="envelope_reminded"),
        ]
        constraints = [
            # Never two current envelopes for one invoice, even when "Send for signature" is
            # clicked several times at once: the second insert fails and the service reopens
            # the first (signing.services.sending.envelope_open_for_source).
            models.UniqueConstraint(
                fields=["source_key"],
                condition=models.Q(
                    status__in=[
                        "draft",
                        "awaiting_company",
                        "awaiting_client",
                        "sealing",
                        "sealing_failed",
                        "completed",
                    ]
                )
                & ~models.Q(source_key=""),
                name="one_current_envelope_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.public_id})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Party(models.Model):
    class Role(models.TextChoices):
        COMPANY = "company", _("Our company")
        CLIENT = "client", _("Client")

    class Channel(models.TextChoices):
        EMAIL = "email", pgettext_lazy("signing", "Email")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for their turn")
        ACTIVE = "active", _("Invited")
        SIGNED = "signed", _("Signed")
        DECLINED = "declined", _("Declined")

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    order = models.PositiveIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    is_company = models.BooleanField(
        default=False, help_text=_("The party signs for a legal entity (may be asked for a stamp).")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    # The link token is HMAC(SECRET_KEY, party + nonce): the database keeps only the nonce and
    # the token's SHA-256, yet reminders can rebuild the same link. A new nonce kills the old link.
    token_nonce = models.CharField(max_length=32, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    token_issued_at = models.DateTimeField(null=True, blank=True)
    otp_hash = models.CharField(max_length=64, blank=True)
    otp_sent_at = models.DateTimeField(null=True, blank=True)
    otp_expires_at = models.DateTimeField(null=True, blank=True)
    otp_attempts = models.PositiveIntegerField(default=0)
    otp_confirmed_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    signed_ip = models.GenericIPAddressField(null=True, blank=True)
    signed_user_agent = models.CharField(max_length=400, blank=True)
    signature_method = models.CharField(max_length=10, blank=True)
    # The exact consent words the signer agreed to, in their language, and their version
    # (signing.consent), stored when they signed.
    consent_text = models.TextField(blank=True)
    consent_version = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["envelope", "order"]
        constraints = [
            models.UniqueConstraint(fields=["envelope", "order"], name="party_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"

    @property
    def recipient(self) -> str:
        return self.phone if self.channel == self.Channel.SMS else self.email


class FieldValue(models.Model):
    class Method(models.TextChoices):
        DRAWN = "drawn", _("Drawn")
        TYPED = "typed", _("Typed")
        UPLOADED = "uploaded", _("Uploaded")
        AUTO = "auto", _("Filled automatically")

    field = models.OneToOneField("documents.Field", on_delete=models.CASCADE, related_name="value")
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="values")
    text = models.TextField(blank=True)
    image = models.FileField(upload_to="values/", blank=True)
    method = models.CharField(max_length=10, choices=Method.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.field_id}: {self.method}"


class Event(models.Model):
    """Append-only audit trail, hash-chained per envelope (see signing/audit.py)."""

    class Type(models.TextChoices):
        CREATED = "created", _("Created")
        SENT = "sent", pgettext_lazy("signing", "Sent for signature")
        MESSAGE_QUEUED = "message_queued", _("Message queued")
        MESSAGE_SENT = "message_sent", _("Message sent")
        MESSAGE_FAILED = "message_failed", _("Message failed")
        LINK_OPENED = "link_opened", _("Link opened")
        CODE_SENT = "code_sent", _("Code sent")
        CODE_FAILED = "code_failed", _("Wrong code")
        CODE_CONFIRMED = "code_confirmed", _("Code confirmed")
        FIELD_FILLED = "field_filled", _("Field filled")
        # The signer downloaded the document as it stood, before signing (signing.services.viewing).
        COPY_DOWNLOADED = "copy_downloaded", _("Copy downloaded before signing")
        SIGNED = "signed", _("Signed")
        DECLINED = "declined", _("Declined")
        REMINDED = "reminded", _("Reminder sent")
        CANCELLED = "cancelled", pgettext_lazy("signing", "Cancelled")
        EXPIRED = "expired", _("Expired")
        LINK_REISSUED = "link_reissued", _("Link reissued")
        # The sender corrects an envelope nobody has signed yet: the links die while the fields
        # are changed (started), then new links go out (corrected, with what changed).
        CORRECTION_STARTED = "correction_started", _("Correction started")
        CORRECTED = "corrected", _("Corrected")
        SEALING_STARTED = "sealing_started", _("Sealing started")
        SEALING_FAILED = "sealing_failed", _("Sealing failed")
        SEALED = "sealed", _("Sealed")
        # A draft's document language changed before sending (the document may be rendered
        # again: data names the documents before and after).
        LANGUAGE_CHANGED = "language_changed", _("Language changed")

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="events")
    party = models.ForeignKey(Party, on_delete=models.SET_NULL, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    created_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The chain's tail (event_append, chain_head): one index step instead of reading
            # and sorting every event of the envelope.
            models.Index(fields=["envelope", "-id"], name="event_chain_tail"),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class Message(models.Model):
    """The notification outbox: written with the state change, sent after commit."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        DELIVERED = "delivered", _("Delivered")

    class Template(models.TextChoices):
        INVITATION = "invitation", _("Invitation to sign")
        CODE = "code", _("Confirmation code")
        REMINDER = "reminder", _("Reminder")
        PARTY_SIGNED = "party_signed", _("A party signed")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", pgettext_lazy("signing", "Cancelled")
        EXPIRED = "expired", _("Expired")
        COMPLETED = "completed", _("Completed")
        SEALING_FAILED = "sealing_failed", _("Sealing failed")

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="messages")
    party = models.ForeignKey(Party, on_delete=models.SET_NULL, null=True, blank=True)
    channel = models.CharField(max_length=5, choices=Party.Channel.choices)
    recipient = models.CharField(max_length=254)
    template = models.CharField(max_length=20, choices=Template.choices)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    attach_sealed = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider_id = models.CharField(max_length=200, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text=_("When a worker took it."))
    sent_at = models.DateTimeField(null=True, blank=True)
    # The Celery queue of its delivery (signflow.celery.delivery_queue): `bulk` when a batch task
    # wrote it (reminders, expiry, bulk sends), else `messages`. A delivery sends the due
    # messages of its own queue with it, never the other's: reminders never ride ahead of a code.
    queue = models.CharField(max_length=10, default="messages", editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.template} -> {self.recipient} ({self.status})"
