"""CRM records: our legal entities, counterparties and their contacts, deals and invoices.

`crm` imports no other SignFlow app (DESIGN.md).
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
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
    default_stamp = models.ImageField(_("default stamp"), upload_to="stamps/", blank=True)
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("counterparty")
        verbose_name_plural = _("counterparties")
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.legal_name


class Contact(models.Model):
    counterparty = models.ForeignKey(
        Counterparty, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=200)
    position = models.CharField(_("position"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True, help_text="E.164")

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Deal(models.Model):
    class Stage(models.TextChoices):
        NEW = "new", _("New")
        PROPOSAL = "proposal", _("Proposal")
        NEGOTIATION = "negotiation", _("Negotiation")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

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
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.NEW)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="deals",
        verbose_name=_("responsible employee"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class DealEvent(models.Model):
    """The deal's timeline: what happened on it, in the order it happened."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40)
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="invoices")
    company = models.ForeignKey(OwnCompany, on_delete=models.PROTECT, related_name="invoices")
    year = models.PositiveIntegerField()
    sequence = models.PositiveIntegerField()
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)

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


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["position", "id"]

    @property
    def net(self) -> Decimal:
        return money(self.quantity * self.unit_price)
