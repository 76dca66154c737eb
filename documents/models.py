"""Documents to sign and the fields placed on them.

Coordinates convention: every `Field` rectangle is in PDF points (1/72 inch) in the *display
space* of its page, i.e. the page as viewers, the previews and the field editor show it: after
its /Rotate, and with the origin at the bottom-left corner of its visible box (the CropBox
clipped to the MediaBox, which may not start at 0, 0). `x`, `y` is the lower-left corner as
displayed, `width` and `height` extend right and up as displayed; the page measures what pdfium's
`get_size()` says (signflow.pdf.page_sizes). Pages are numbered from 1.

Uploaded files are rewritten without active content (documents.sanitize) but never normalised:
pages keep their boxes and /Rotate (transfer_rotation_to_content leaves annotations behind, and
documents stored earlier would still need the mapping). Only the code that reads or writes the PDF's own content converts, with
signflow.pdf.PageGeometry: text tags (pdfium's character boxes are in user space,
`rect_to_display`) and the drawing (flattening and tag covers merge an overlay built in display
space through `to_user`). Default fields, layouts, the editor and the signer's page boxes
(documents.selectors.page_sizes) use the displayed page size; the verification stripe runs
along the displayed bottom edge with the same mapping (verification.stamping). For pages without /Rotate whose MediaBox starts at 0, 0 without a
smaller CropBox (every PDF the app renders itself), display space and user space are the same.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DocumentTemplate(models.Model):
    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        AGREEMENT = "agreement", _("Service agreement")
        NDA = "nda", _("Non-disclosure agreement")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    language = models.CharField(_("language"), max_length=2, choices=settings.LANGUAGES)
    body = models.TextField(_("HTML body"))
    css = models.TextField(_("page CSS"), blank=True)
    is_default_for_invoices = models.BooleanField(_("default for invoices"), default=False)
    builtin = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("document template")
        verbose_name_plural = _("document templates")
        ordering = ["name"]
        constraints = [
            # invoice_template_for() picks "the" default of a language: there is at most one.
            models.UniqueConstraint(
                fields=["language"],
                condition=Q(is_default_for_invoices=True),
                name="one_default_invoice_template_per_language",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """The audit of a template: one row per change (who, when, what), written in the same
    transaction as the change, with the body and CSS as they were after it.

    A Document records the version that built it. Rows outlive their template (the foreign key
    is set to null on delete, the name is copied) so that the history of a deleted template,
    and what built an old document, stay readable.
    """

    class Change(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Changed")
        DUPLICATED = "duplicated", _("Duplicated")
        DEFAULT_SET = "default_set", _("Made the default")
        DEFAULT_UNSET = "default_unset", _("No longer the default")
        DELETED = "deleted", _("Deleted")
        # The content changed outside the editor (built-in templates refreshed on deployment,
        # rows older than this history): recorded when a document is next built from it.
        RECORDED = "recorded", _("Recorded")

    template = models.ForeignKey(
        DocumentTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="versions",
    )
    number = models.PositiveIntegerField(_("version"))
    change = models.CharField(_("change"), max_length=20, choices=Change.choices)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=DocumentTemplate.Kind.choices)
    language = models.CharField(_("language"), max_length=2, choices=settings.LANGUAGES)
    body = models.TextField(_("HTML body"))
    css = models.TextField(_("page CSS"), blank=True)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the body and CSS.")
    is_default = models.BooleanField(_("default for invoices"), default=False)
    summary = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="template_versions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        ordering = ["-created_at", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="template_version_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"


class Document(models.Model):
    class Source(models.TextChoices):
        TEMPLATE = "template", _("Template")
        UPLOAD = "upload", _("Upload")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices)
    template = models.ForeignKey(DocumentTemplate, on_delete=models.SET_NULL, null=True, blank=True)
    # The exact body and CSS that built it (documents.authoring.template_current_version).
    template_version = models.ForeignKey(
        TemplateVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    language = models.CharField(max_length=2, choices=settings.LANGUAGES, default="fr")
    pdf = models.FileField(upload_to="documents/")
    sha256 = models.CharField(max_length=64, db_index=True)
    page_count = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="documents"
    )
    deal = models.ForeignKey(
        "crm.Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="documents"
    )
    invoice = models.ForeignKey(
        "crm.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="documents"
    )
    locked = models.BooleanField(default=False, help_text="Set once sent: fields are frozen.")
    # What documents.sanitize removed from an upload: {"javascript": 2, "form_fields": 3,
    # "embedded_files": 1, "embedded_file_names": ["payload.exe"], ...}; the certificate of
    # completion lists it. Empty for rendered documents and clean uploads.
    sanitized = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Previews(models.TextChoices):
        # Small files: each page image is rendered when first asked for (documents.previews).
        ON_DEMAND = "on_demand", _("On demand")
        # Large files: a Celery task renders every page; the editor polls its progress.
        QUEUED = "queued", _("Queued")
        RENDERING = "rendering", _("Rendering")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    previews = models.CharField(max_length=10, choices=Previews.choices, default=Previews.ON_DEMAND)
    previews_done = models.PositiveIntegerField(default=0, help_text="Pages rendered so far.")
    previews_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Field(models.Model):
    """A place on a page that one party fills in. Rectangle in points, in the page's display
    space (as shown, after /Rotate, from the visible box's bottom-left corner: see above)."""

    class Kind(models.TextChoices):
        SIGNATURE = "signature", _("Signature")
        INITIALS = "initials", _("Initials")
        STAMP = "stamp", _("Stamp")
        DATE = "date", _("Date")
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        CHECKBOX = "checkbox", _("Checkbox")
        NAME = "name", _("Name")
        REQUISITES = "requisites", _("Requisites")
        CRM = "crm", _("CRM attribute")
        # A phrase the signer types before signing ("Bon pour accord"), checked against
        # `phrase` ignoring case and accents, drawn in the handwriting font.
        MENTION = "mention", _("Handwritten mention")

    class Role(models.TextChoices):
        COMPANY = "company", _("Our company")
        CLIENT = "client", _("Client")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="fields")
    key = models.CharField(max_length=64, help_text="Stable id of the field within its document.")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    role = models.CharField(_("party"), max_length=10, choices=Role.choices)
    page = models.PositiveIntegerField(_("page"))
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    required = models.BooleanField(_("required"), default=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    prefilled = models.TextField(_("prefilled value"), blank=True)
    crm_attribute = models.CharField(max_length=64, blank=True)
    phrase = models.CharField(
        _("phrase to type"),
        max_length=200,
        blank=True,
        help_text=_("For a mention: what the signer types, e.g. “Bon pour accord”."),
    )

    class Meta:
        ordering = ["page", "-y", "x"]
        constraints = [
            models.UniqueConstraint(fields=["document", "key"], name="field_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_role_display()}, p. {self.page})"

    @property
    def is_image(self) -> bool:
        return self.kind in {self.Kind.SIGNATURE, self.Kind.INITIALS, self.Kind.STAMP}


class FieldLayout(models.Model):
    """A document's fields saved under a name, to place the same fields on the next upload.

    `pages` holds the source document's page sizes, [[width, height], ...] in points, and
    `fields` one dict per field with the Field rectangle convention above plus `last_page`
    (true when the field sat on the source's last page: it goes to the last page of the
    document it is applied to, whatever its length).
    """

    name = models.CharField(_("name"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="field_layouts"
    )
    pages = models.JSONField(default=list)
    fields = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("field layout")
        verbose_name_plural = _("field layouts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
