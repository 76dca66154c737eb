"""CRM records: our legal entities, counterparties and their contacts, deals and invoices.

`crm` imports no other SignFlow app (DESIGN.md).
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Round to the cent the way invoices are rounded in France (half away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Requisites(models.Model):
    """Requisites shared by our companies and counterparties that are companies."""

    legal_name = models.CharField(_("legal name"), max_length=200)
    legal_form = models.CharField(_("legal form"), max_length=50, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    rcs_city = models.CharField(_("RCS city"), max_length=100, blank=True)
    address = models.TextField(_("address"), blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)

    class Meta:
        abstract = True


class OwnCompany(Requisites):
    """A legal entity of ours: it issues invoices and its director signs first."""

    director_name = models.CharField(_("director's name"), max_length=200)
    director_title = models.CharField(_("director's title"), max_length=100, blank=True)
    director_email = models.EmailField(_("director's email"), blank=True)
    director_phone = models.CharField(_("director's mobile phone"), max_length=20, blank=True)
    # The company's stamp, background removed when uploaded (signing.images): its director's
    # signing page offers it instead of an upload at every signature.
    default_stamp = models.ImageField(_("default stamp"), upload_to="stamps/", blank=True)
    # Whether a client that is a company is asked for its stamp: without it, documents carry no
    # client stamp field at all (never one left empty on the sealed PDF).
    ask_client_stamp = models.BooleanField(_("Ask a company client for its stamp"), default=False)
    is_default = models.BooleanField(_("default company"), default=False)

    class Meta:
        verbose_name = _("own company")
        verbose_name_plural = _("own companies")
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.legal_name


class Employee(models.Model):
    """A user's role in SignFlow: an employee sees their own deals, a manager sees all."""

    class Role(models.TextChoices):
        EMPLOYEE = "employee", _("Employee")
        MANAGER = "manager", _("Manager")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="employee"
    )
    company = models.ForeignKey(
        OwnCompany, on_delete=models.PROTECT, related_name="employees", verbose_name=_("company")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.EMPLOYEE)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


class Counterparty(Requisites):
    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        INDIVIDUAL = "individual", _("Individual")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.COMPANY)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("counterparty")
        verbose_name_plural = _("counterparties")
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.legal_name


class Contact(models.Model):
    counterparty = models.ForeignKey(
        Counterparty,
        on_delete=models.CASCADE,
        related_name="contacts",
        verbose_name=_("counterparty"),
    )
    name = models.CharField(_("name"), max_length=200)
    position = models.CharField(_("job title"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(
        _("mobile phone"),
        max_length=20,
        blank=True,
        help_text=_("Stored in international format, e.g. +33612345678."),
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DealStageManager(models.Manager["DealStage"]):
    # The pipeline a new installation starts with; a manager renames, reorders or adds stages.
    DEFAULTS = [
        ("new", "New", "Nouvelle", False),
        ("proposal", "Proposal", "Proposition", False),
        ("negotiation", "Negotiation", "Négociation", False),
        ("won", "Won", "Gagnée", True),
        ("lost", "Lost", "Perdue", True),
    ]

    def ensure_defaults(self) -> None:
        """Create the default pipeline when no stage exists yet (fresh database, flushed tests)."""
        if self.exists():
            return
        for position, (code, name_en, name_fr, is_closed) in enumerate(self.DEFAULTS):
            self.get_or_create(
                code=code,
                defaults={
                    "name_en": name_en,
                    "name_fr": name_fr,
                    "position": position,
                    "is_closed": is_closed,
                },
            )

    def first_open(self) -> "DealStage":
        self.ensure_defaults()
        stage = self.filter(is_closed=False).order_by("position", "id").first()
        return stage or self.order_by("position", "id")[0]


class DealStage(models.Model):
    """A column of the sales pipeline, named in French and English."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=60)
    name_fr = models.CharField(_("name (French)"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_closed = models.BooleanField(
        _("closes the deal"), default=False, help_text=_("Won or lost: no further work expected.")
    )
    # The pipeline's rule for signatures: when a deal's document is signed, the deal moves to
    # the stage marked here (at most one; crm.services.deal_move_on_signature).
    on_signature = models.BooleanField(
        _("reached when a document is signed"),
        default=False,
        help_text=_("A deal moves to this stage when one of its documents is signed."),
    )

    objects = DealStageManager()

    class Meta:
        verbose_name = _("deal stage")
        verbose_name_plural = _("deal stages")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        if (translation.get_language() or "fr").startswith("fr"):
            return self.name_fr or self.name_en
        return self.name_en or self.name_fr


def default_deal_stage() -> int:
    """Default for Deal.stage: the first open stage of the pipeline (created on demand).

    Reads the id alone first: migration 0002 calls this (its AlterField) with the current model
    while columns added by later migrations (on_signature) do not exist yet."""
    first = (
        DealStage.objects.filter(is_closed=False)
        .order_by("position", "id")
        .values_list("pk", flat=True)
        .first()
    )
    return first if first is not None else DealStage.objects.first_open().pk


class Deal(models.Model):
    title = models.CharField(_("title"), max_length=200)
    company = models.ForeignKey(
        OwnCompany, on_delete=models.PROTECT, related_name="deals", verbose_name=_("our company")
    )
    counterparty = models.ForeignKey(
        Counterparty, on_delete=models.PROTECT, related_name="deals", verbose_name=_("client")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("contact")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=Decimal(0))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    stage = models.ForeignKey(
        DealStage,
        on_delete=models.PROTECT,
        related_name="deals",
        default=default_deal_stage,
        verbose_name=_("stage"),
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="deals",
        verbose_name=_("responsible employee"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class DealEvent(models.Model):
    """The deal's timeline: what happened on it, in the order it happened."""

    class Kind(models.TextChoices):
        # Kinds CRM writes itself; crm.timeline.KINDS words every kind, other apps' included
        # (the column has no choices on purpose).
        CREATED = "created", _("Created")
        STAGE_CHANGED = "stage_changed", _("Stage changed")
        STAGE_ON_SIGNATURE = "stage_on_signature", _("Stage changed")
        INVOICE_CREATED = "invoice_created", _("Invoice created")
        INVOICE_STATUS = "invoice_status", _("Invoice status")
        INVOICE_SIGNED = "invoice_signed", _("Invoice signed")
        DOCUMENT_SENT = "document_sent", _("Document sent")
        SIGNED = "signed", _("Signed")
        DECLINED = "declined", _("Declined")
        WRITE_BACK = "write_back", _("Client data updated")
        NOTE = "note", _("Note")

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(_("kind"), max_length=40)
    # What the sentence of the kind needs (crm.timeline), worded when it is shown.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # A note's words; for events stored before `params` existed, the sentence as written then.
    text = models.CharField(_("text"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("deal event")
        verbose_name_plural = _("deal events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.sentence}"

    @property
    def kind_label(self) -> str:
        from crm.timeline import kind_label

        return kind_label(self.kind)

    @property
    def sentence(self) -> str:
        """The event in the active language (the reader's)."""
        from crm.timeline import sentence

        return sentence(self.kind, self.params, self.text)


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        # Its document was signed by every party and sealed (crm.services.invoice_mark_signed).
        SIGNED = "signed", _("Signed")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")

    deal = models.ForeignKey(
        Deal, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("deal")
    )
    company = models.ForeignKey(
        OwnCompany, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("our company")
    )
    year = models.PositiveIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    notes = models.TextField(_("notes"), blank=True, help_text=_("Printed under the totals."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-year", "-sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "year", "sequence"], name="invoice_number_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"F-{self.year}-{self.sequence:05d}"

    def totals(self) -> dict[str, Decimal]:
        """Net, VAT per rate and gross, each line rounded to the cent before summing."""
        net = Decimal(0)
        vat_by_rate: dict[Decimal, Decimal] = {}
        for line in self.lines.all():
            net += line.net
            vat_by_rate[line.vat_rate] = vat_by_rate.get(line.vat_rate, Decimal(0)) + line.net
        vat = sum((money(base * rate / 100) for rate, base in vat_by_rate.items()), Decimal(0))
        return {"net": money(net), "vat": money(vat), "gross": money(net + vat)}

    def vat_breakdown(self) -> list[dict[str, Decimal]]:
        """One row per VAT rate: rate, taxable base and VAT, computed exactly as totals()."""
        base_by_rate: dict[Decimal, Decimal] = {}
        for line in self.lines.all():
            base_by_rate[line.vat_rate] = base_by_rate.get(line.vat_rate, Decimal(0)) + line.net
        return [
            {"rate": rate, "base": money(base), "vat": money(base * rate / 100)}
            for rate, base in sorted(base_by_rate.items(), reverse=True)
        ]


class InvoiceCounter(models.Model):
    """The last number used per own company and year; its row is locked to number an invoice."""

    company = models.ForeignKey(OwnCompany, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveIntegerField()
    last_sequence = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice counter")
        verbose_name_plural = _("invoice counters")
        constraints = [
            models.UniqueConstraint(fields=["company", "year"], name="invoice_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.year}: {self.last_sequence}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"), default=0)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=2)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description

    @property
    def net(self) -> Decimal:
        return money(self.quantity * self.unit_price)
