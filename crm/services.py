"""Every CRM write that changes state: keyword-only, typed, one transaction each."""

import datetime
import json
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict, TypeVar

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from crm.models import (
    Contact,
    Counterparty,
    Deal,
    DealEvent,
    DealStage,
    Employee,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    OwnCompany,
)
from crm.timeline import money_param, stage_param
from crm.validators import CLEANERS
from signflow.errors import Conflict, NotFound, SignFlowError

# French VAT rates an invoice line may carry (standard, intermediate, reduced, special, none).
VAT_RATES = [Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0")]

User = AbstractBaseUser | AnonymousUser
ModelT = TypeVar("ModelT", bound=models.Model)


class LineData(TypedDict):
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal


def _actor(user: User | None) -> Any:
    return user if user is not None and user.is_authenticated else None


def _full_clean(instance: models.Model, exclude: list[str] | None = None) -> None:
    """Model validation in the one error hierarchy: per-field messages, code "invalid"."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise SignFlowError.from_validation_error(exc) from exc


# --- Timeline ---------------------------------------------------------------------------------


def deal_timeline_add(
    *,
    deal: Deal | int,
    kind: str,
    params: dict[str, Any] | None = None,
    text: str = "",
    actor: User | None = None,
) -> DealEvent:
    """Append one event to a deal's timeline (also called by `signing`: sent, signed...).

    `params` are what crm.timeline needs to word the event in the reader's language; `text` is
    a note's own words. One fact, one event: callers write it once, where the fact happens.
    """
    event = DealEvent(kind=kind, params=params or {}, text=text[:500], actor=_actor(actor))
    if isinstance(deal, Deal):
        event.deal = deal
    else:
        event.deal_id = deal
    _full_clean(event, exclude=["deal"])
    event.save()
    return event


# --- Employees --------------------------------------------------------------------------------


def _history(*, actor: User | None, obj: Any, message: str, flag: int = CHANGE) -> None:
    """Who changed a CRM record, in Django's admin history (LogEntry), in the caller's
    transaction: the record exists exactly when the change does. A change without a person
    behind it (a seed command) has no history row: LogEntry needs a user."""
    user = _actor(actor)
    if user is None:
        return
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[obj], action_flag=flag, change_message=message
    )


def _model_field(instance: models.Model, name: str) -> "models.Field[Any, Any]":
    field = instance._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{name} is not a concrete field of {type(instance).__name__}")
    return field


def _save_from_form(instance: ModelT, data: dict[str, Any], actor: User | None) -> ModelT:
    """Apply a form's cleaned values (for a file: None keeps it, False clears it), validate,
    save what changed and record it in the admin history with its actor."""
    fields = {name: _model_field(instance, name) for name in data}
    before = {name: field.value_from_object(instance) for name, field in fields.items()}
    for name, value in data.items():
        fields[name].save_form_data(instance, value)
    _full_clean(instance)
    if instance.pk is None:
        instance.save()
        _history(actor=actor, obj=instance, message=json.dumps([{"added": {}}]), flag=ADDITION)
        return instance
    changed = [n for n, f in fields.items() if f.value_from_object(instance) != before[n]]
    if changed:
        instance.save(update_fields=changed)
        message = json.dumps([{"changed": {"fields": changed}}])
        _history(actor=actor, obj=instance, message=message)
    return instance


@transaction.atomic
def employee_set_role(*, employee: Employee, role: str, actor: AbstractBaseUser) -> Employee:
    """Switch an employee between employee and manager; the last manager cannot step down.

    The manager rows are locked so two managers demoting each other at once cannot leave the
    company without any manager (the second waits, then sees that it is the last one).
    """
    if role not in Employee.Role.values:
        message = _("Choose employee or manager.")
        raise SignFlowError("invalid_role", message, fields={"role": [message]})
    managers = list(
        Employee.objects.select_for_update()
        .filter(role=Employee.Role.MANAGER, user__is_active=True)
        .values_list("pk", flat=True)
    )
    employee = Employee.objects.select_for_update().select_related("user").get(pk=employee.pk)
    if role == Employee.Role.EMPLOYEE and managers == [employee.pk]:
        raise Conflict("last_manager", _("Keep at least one manager: promote someone else first."))
    old = employee.role
    if old == role:
        return employee
    employee.role = role
    _full_clean(employee)
    employee.save(update_fields=["role"])
    _history(actor=actor, obj=employee, message=f"Role changed from {old} to {role}")
    return employee


# --- Own companies ----------------------------------------------------------------------------


@transaction.atomic
def own_company_save(
    *, company: OwnCompany | None, data: dict[str, Any], actor: User | None
) -> OwnCompany:
    """Create or edit an own company; the first one, or one marked default, becomes the
    default (exactly one is default afterwards)."""
    if company is not None:
        company = OwnCompany.objects.select_for_update().get(pk=company.pk)
    company = _save_from_form(company or OwnCompany(), data, actor)
    if company.is_default or not OwnCompany.objects.filter(is_default=True).exists():
        own_company_make_default(company=company)
    return company


@transaction.atomic
def own_company_make_default(*, company: OwnCompany) -> OwnCompany:
    """Make one own company the default; exactly one is default afterwards."""
    OwnCompany.objects.exclude(pk=company.pk).filter(is_default=True).update(is_default=False)
    if not company.is_default:
        company.is_default = True
        company.save(update_fields=["is_default"])
    return company


def own_company_default() -> OwnCompany | None:
    return OwnCompany.objects.filter(is_default=True).first() or OwnCompany.objects.first()


# --- Deals ------------------------------------------------------------------------------------


@transaction.atomic
def deal_create(
    *,
    title: str,
    company: OwnCompany,
    counterparty: Counterparty,
    contact: Contact | None,
    responsible: Any,
    amount: Decimal = Decimal(0),
    currency: str = "EUR",
    stage: DealStage | None = None,
    actor: User | None = None,
) -> Deal:
    deal = Deal(
        title=title,
        company=company,
        counterparty=counterparty,
        contact=contact,
        responsible=responsible,
        amount=amount,
        currency=currency,
        stage=stage or DealStage.objects.first_open(),
    )
    _full_clean(deal)
    deal.save()
    deal_timeline_add(
        deal=deal,
        kind=DealEvent.Kind.CREATED,
        params={"stage": stage_param(deal.stage)},
        actor=actor,
    )
    return deal


@transaction.atomic
def deal_update(*, deal: Deal, data: dict[str, Any], actor: User | None = None) -> Deal:
    """Apply edited fields; a stage change is written to the timeline."""
    old_stage = deal.stage
    for name, value in data.items():
        setattr(deal, name, value)
    _full_clean(deal)
    deal.save(update_fields=list(data))
    if deal.stage_id != old_stage.pk:
        deal_timeline_add(
            deal=deal,
            kind=DealEvent.Kind.STAGE_CHANGED,
            params={"old": stage_param(old_stage), "new": stage_param(deal.stage)},
            actor=actor,
        )
    return deal


# --- Counterparties and contacts ---------------------------------------------------------------


@transaction.atomic
def counterparty_save(
    *, counterparty: Counterparty | None, data: dict[str, Any], actor: User | None
) -> Counterparty:
    """Create or edit a counterparty from its form's cleaned values. The row is locked and
    only the fields that differ are written: a signer's write-back at the same moment is not
    undone by an untouched field of the form."""
    if counterparty is not None:
        counterparty = Counterparty.objects.select_for_update().get(pk=counterparty.pk)
    return _save_from_form(counterparty or Counterparty(), data, actor)


@transaction.atomic
def contact_save(
    *,
    contact: Contact | None,
    counterparty: Counterparty,
    data: dict[str, Any],
    actor: User | None,
) -> Contact:
    """Create a contact of `counterparty`, or edit `contact`, from its form's cleaned values."""
    if contact is not None:
        instance = Contact.objects.select_for_update().get(pk=contact.pk)
    else:
        instance = Contact(counterparty=counterparty)
    return _save_from_form(instance, data, actor)


# --- The pipeline -----------------------------------------------------------------------------


def default_stages() -> list[dict[str, Any]]:
    """The pipeline a new installation starts with (the migrations create it), as form rows."""
    return [
        {"position": n, "code": code, "name_en": en, "name_fr": fr, "is_closed": closed}
        for n, (code, en, fr, closed) in enumerate(DealStage.objects.DEFAULTS)
    ]


@transaction.atomic
def pipeline_save(
    *, rows: list[tuple[int | None, dict[str, Any]]], actor: User | None
) -> list[DealStage]:
    """Save edited stages (id, values) and new ones (None, values).

    Every stage row is locked first: two managers saving at once cannot each mark a different
    stage as the one reached on signature (the second waits and then sees the first's).
    """
    current = {stage.pk: stage for stage in DealStage.objects.select_for_update()}
    saved = []
    for pk, data in rows:
        stage = DealStage() if pk is None else current.get(pk)
        if stage is None:
            raise NotFound("stage_not_found", _("A stage was deleted meanwhile: reload the page."))
        saved.append(_save_from_form(stage, data, actor))
    if DealStage.objects.filter(on_signature=True).count() > 1:
        message = _("Only one stage can be the one a deal reaches when its document is signed.")
        raise SignFlowError("on_signature", message, fields={"on_signature": [message]})
    return saved


# --- Invoices ---------------------------------------------------------------------------------


def _line_error(code: str, message: str) -> SignFlowError:
    # The lines are one input of the invoice form and of the API ("lines").
    return SignFlowError(code, message, fields={"lines": [message]})


def _check_lines(lines: list[LineData]) -> None:
    if not lines:
        raise _line_error("no_lines", _("An invoice needs at least one line."))
    for line in lines:
        try:
            quantity = Decimal(line["quantity"])
            price = Decimal(line["unit_price"])
            rate = Decimal(line["vat_rate"])
        except (InvalidOperation, TypeError) as exc:
            message = _("Quantity, price and VAT rate must be numbers.")
            raise _line_error("not_a_number", message) from exc
        if quantity <= 0:
            raise _line_error("quantity", _("Quantity must be greater than zero."))
        if price < 0:
            raise _line_error("unit_price", _("Unit price cannot be negative."))
        if rate not in VAT_RATES:
            raise _line_error("vat_rate", _("Unknown VAT rate: %(rate)s %%.") % {"rate": rate})


def _next_invoice_sequence(*, company: OwnCompany, year: int) -> int:
    # Two invoices created at the same moment must neither share a number nor leave a gap: the
    # counter row stays locked until our transaction commits, so a concurrent creator waits for
    # it and then reads the number we used. A rolled-back invoice rolls back the counter too.
    counter, _created = InvoiceCounter.objects.get_or_create(company=company, year=year)
    counter = InvoiceCounter.objects.select_for_update().get(pk=counter.pk)
    # Invoices created outside this service (imports, fixtures) must not be numbered twice.
    existing = Invoice.objects.filter(company=company, year=year).aggregate(m=Max("sequence"))
    counter.last_sequence = max(counter.last_sequence, existing["m"] or 0) + 1
    counter.save(update_fields=["last_sequence"])
    return counter.last_sequence


def _save_lines(invoice: Invoice, lines: list[LineData]) -> None:
    for position, line in enumerate(lines):
        row = InvoiceLine(
            invoice=invoice,
            position=position,
            description=line["description"],
            quantity=Decimal(line["quantity"]),
            unit=line.get("unit", ""),
            unit_price=Decimal(line["unit_price"]),
            vat_rate=Decimal(line["vat_rate"]),
        )
        _full_clean(row, exclude=["invoice"])
        row.save()


@transaction.atomic
def invoice_create(
    *,
    deal: Deal,
    lines: list[LineData],
    issue_date: datetime.date,
    due_date: datetime.date,
    status: str = Invoice.Status.DRAFT,
    notes: str = "",
    actor: User | None = None,
) -> Invoice:
    """Create an invoice numbered F-<year>-<n>, n sequential per own company and year."""
    _check_lines(lines)
    if due_date < issue_date:
        raise SignFlowError.for_field(
            "due_date", _("The due date cannot be before the issue date.")
        )
    sequence = _next_invoice_sequence(company=deal.company, year=issue_date.year)
    invoice = Invoice(
        deal=deal,
        company=deal.company,
        year=issue_date.year,
        sequence=sequence,
        issue_date=issue_date,
        due_date=due_date,
        status=status,
        currency=deal.currency,
        notes=notes,
    )
    _full_clean(invoice)
    invoice.save()
    _save_lines(invoice, lines)
    totals = invoice.totals()
    deal_timeline_add(
        deal=deal,
        kind=DealEvent.Kind.INVOICE_CREATED,
        params={"number": invoice.number, "gross": money_param(totals["gross"], invoice.currency)},
        actor=actor,
    )
    return invoice


@transaction.atomic
def invoice_update(
    *,
    invoice: Invoice,
    lines: list[LineData],
    issue_date: datetime.date,
    due_date: datetime.date,
    notes: str = "",
) -> Invoice:
    """Replace a draft invoice's lines and dates; its number never changes."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        raise Conflict("not_draft", _("Only a draft invoice can be edited."))
    if issue_date.year != invoice.year:
        raise SignFlowError.for_field(
            "issue_date",
            _("The issue date must stay in %(year)s, the year of the invoice number.")
            % {"year": invoice.year},
        )
    _check_lines(lines)
    if due_date < issue_date:
        raise SignFlowError.for_field(
            "due_date", _("The due date cannot be before the issue date.")
        )
    invoice.issue_date = issue_date
    invoice.due_date = due_date
    invoice.notes = notes
    invoice.save(update_fields=["issue_date", "due_date", "notes"])
    invoice.lines.all().delete()
    _save_lines(invoice, lines)
    return invoice


# Which status may follow which: an invoice number, once used, is never freed.
INVOICE_TRANSITIONS: dict[str, set[str]] = {
    Invoice.Status.DRAFT: {Invoice.Status.ISSUED, Invoice.Status.CANCELLED},
    Invoice.Status.ISSUED: {Invoice.Status.PAID, Invoice.Status.CANCELLED},
    # Only a signature makes an invoice signed (invoice_mark_signed), never a click.
    Invoice.Status.SIGNED: {Invoice.Status.PAID, Invoice.Status.CANCELLED},
    Invoice.Status.PAID: set(),
    Invoice.Status.CANCELLED: set(),
}


@transaction.atomic
def invoice_set_status(*, invoice: Invoice, status: str, actor: User | None = None) -> Invoice:
    # Locked so that two clicks (issue, cancel) cannot both pass the transition check.
    if status not in Invoice.Status.values:
        raise SignFlowError.for_field("status", _("Unknown invoice status."), code="invalid_status")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if status not in INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise Conflict(
            "transition",
            _("An invoice that is %(old)s cannot become %(new)s.")
            % {
                "old": invoice.get_status_display().lower(),
                "new": str(Invoice.Status(status).label).lower(),
            },
        )
    invoice.status = status
    invoice.save(update_fields=["status"])
    deal_timeline_add(
        deal=invoice.deal,
        kind=DealEvent.Kind.INVOICE_STATUS,
        params={"number": invoice.number, "status": invoice.status},
        actor=actor,
    )
    return invoice


# --- Write-back from signed documents ---------------------------------------------------------

# Counterparty attributes a signer may fill in a CRM-linked field.
WRITE_BACK_ATTRIBUTES = {
    "legal_name",
    "legal_form",
    "address",
    "siren",
    "siret",
    "vat_number",
    "rcs_city",
    "iban",
    "bic",
    "email",
    "phone",
}


@transaction.atomic
def counterparty_write_back(
    *, counterparty: Counterparty, attribute: str, value: str, deal: Deal | None = None
) -> Counterparty:
    """Store a value a signer entered for the counterparty, and say so on the deal's timeline.

    Raises SignFlowError (code "attribute", or "invalid" with the attribute in `fields`) for an
    attribute outside the whitelist or an invalid value.
    """
    if attribute not in WRITE_BACK_ATTRIBUTES:
        raise SignFlowError(
            "attribute",
            _("“%(attribute)s” cannot be written back to a counterparty.")
            % {"attribute": attribute},
        )
    value = (value or "").strip()
    if attribute == "legal_name" and not value:
        raise SignFlowError.for_field("legal_name", _("The name cannot be empty."))
    counterparty = Counterparty.objects.select_for_update().get(pk=counterparty.pk)
    old = getattr(counterparty, attribute)
    try:
        value = CLEANERS[attribute](value) if attribute in CLEANERS else value
        if attribute == "email" and value:
            validate_email(value)
        setattr(counterparty, attribute, value)
        counterparty.clean_fields(
            exclude=[f.name for f in Counterparty._meta.fields if f.name != attribute]
        )
    except ValidationError as exc:
        raise SignFlowError.from_validation_error(exc, field=attribute) from exc
    counterparty.save(update_fields=[attribute])
    if deal is not None:
        deal_timeline_add(
            deal=deal,
            kind=DealEvent.Kind.WRITE_BACK,
            params={
                "attribute": attribute,
                "counterparty": counterparty.legal_name,
                "value": value,
                "old": old or "",
            },
        )
    return counterparty


# --- Following signatures ---------------------------------------------------------------------
# Called by `signing` in the transaction that completes an envelope, so the CRM never says
# "Issued" about a sealed invoice, nor the other way round.


def invoice_mark_signed(*, invoice: Invoice, title: str, actor: User | None = None) -> Invoice:
    """The invoice's document is signed by every party and sealed: the invoice is Signed.

    A paid or cancelled invoice keeps its status (the signature still shows on the timeline).
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status in {Invoice.Status.DRAFT, Invoice.Status.ISSUED}:
            invoice.status = Invoice.Status.SIGNED
            invoice.save(update_fields=["status"])
        deal_timeline_add(
            deal=invoice.deal_id,
            kind=DealEvent.Kind.INVOICE_SIGNED,
            params={"number": invoice.number, "title": title},
            actor=actor,
        )
    return invoice


def deal_move_on_signature(*, deal: Deal | int, title: str, actor: User | None = None) -> Deal:
    """Move the deal to the pipeline's "reached when a document is signed" stage, if there is
    one, the deal is still open and the stage lies ahead of the deal's (never backwards)."""
    with transaction.atomic():
        # Locked: a manager editing the deal at the same moment must not undo the move.
        deal = (
            Deal.objects.select_for_update()
            .select_related("stage")
            .get(pk=deal.pk if isinstance(deal, Deal) else deal)
        )
        target = DealStage.objects.filter(on_signature=True).order_by("position", "id").first()
        current = deal.stage
        if target is None or current.is_closed or target.pk == current.pk:
            return deal
        if (target.position, target.pk) < (current.position, current.pk):
            return deal
        deal.stage = target
        deal.save(update_fields=["stage"])
        deal_timeline_add(
            deal=deal,
            kind=DealEvent.Kind.STAGE_ON_SIGNATURE,
            params={"title": title, "old": stage_param(current), "new": stage_param(target)},
            actor=actor,
        )
    return deal
