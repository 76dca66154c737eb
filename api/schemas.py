"""The API's typed input and output. Inputs are bounded (lengths, digits, id ranges) so that a
value the database cannot hold is refused with a field error, never a DataError and a 500; text
loses its control and bidi characters exactly as on the pages (signflow.text.clean_text)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints

from crm.services import LineData
from signflow.text import clean_text

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _line(value: str) -> str:
    return clean_text(value).strip()


def _multiline(value: str) -> str:
    return clean_text(value, multiline=True).strip()


# One line of text at most N characters long (LineN) and text of several lines (LinesN): named
# aliases rather than a factory, so that mypy reads them as types.
_ONE_LINE = AfterValidator(_line)
_MULTILINE = AfterValidator(_multiline)
Line20 = Annotated[str, StringConstraints(max_length=20), _ONE_LINE]
Line30 = Annotated[str, StringConstraints(max_length=30), _ONE_LINE]
Line50 = Annotated[str, StringConstraints(max_length=50), _ONE_LINE]
Line60 = Annotated[str, StringConstraints(max_length=60), _ONE_LINE]
Line100 = Annotated[str, StringConstraints(max_length=100), _ONE_LINE]
Line200 = Annotated[str, StringConstraints(max_length=200), _ONE_LINE]
Line254 = Annotated[str, StringConstraints(max_length=254), _ONE_LINE]
Line300 = Annotated[str, StringConstraints(max_length=300), _ONE_LINE]
Lines1000 = Annotated[str, StringConstraints(max_length=1000), _MULTILINE]
Lines2000 = Annotated[str, StringConstraints(max_length=2000), _MULTILINE]


Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2, ge=0, allow_inf_nan=False)]
Language = Literal["fr", "en"]
Channel = Literal["email", "sms"]
Role = Literal["company", "client"]


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]]


class ErrorOut(Schema):
    error: ErrorDetail


# The error answers every endpoint documents (401 no key, 403 scope, 429 rate limit...).
ERRORS: dict[int, Any] = {status: ErrorOut for status in (400, 401, 403, 404, 409, 429)}


# --- CRM ---------------------------------------------------------------------------------


class CounterpartyFields(Schema):
    legal_form: Line50 = ""
    siren: Line60 = ""
    siret: Line60 = ""
    vat_number: Line60 = ""
    rcs_city: Line100 = ""
    address: Lines1000 = ""
    iban: Line60 = ""
    bic: Line60 = ""
    email: Line254 = ""
    phone: Line60 = ""


class CounterpartyIn(CounterpartyFields):
    kind: Literal["company", "individual"] = "company"
    legal_name: Line200


class CounterpartyPatch(Schema):
    """Only the fields given change."""

    kind: Literal["company", "individual"] | None = None
    legal_name: Line200 | None = None
    legal_form: Line50 | None = None
    siren: Line60 | None = None
    siret: Line60 | None = None
    vat_number: Line60 | None = None
    rcs_city: Line100 | None = None
    address: Lines1000 | None = None
    iban: Line60 | None = None
    bic: Line60 | None = None
    email: Line254 | None = None
    phone: Line60 | None = None


class CounterpartyOut(Schema):
    id: int
    kind: str
    legal_name: str
    legal_form: str
    siren: str
    siret: str
    vat_number: str
    rcs_city: str
    address: str
    iban: str
    bic: str
    email: str
    phone: str
    created_at: datetime.datetime


class ContactIn(Schema):
    name: Line200
    position: Line100 = ""
    email: Line254 = ""
    phone: Line60 = ""


class ContactPatch(Schema):
    name: Line200 | None = None
    position: Line100 | None = None
    email: Line254 | None = None
    phone: Line60 | None = None


class ContactOut(Schema):
    id: int
    counterparty_id: int
    name: str
    position: str
    email: str
    phone: str


class DealIn(Schema):
    title: Line200
    counterparty_id: Id
    contact_id: Id | None = None
    company_id: Id | None = Field(None, description="Our company; default: the default one.")
    amount: Money = Decimal(0)
    currency: Literal["EUR", "USD", "GBP", "CHF"] = "EUR"
    stage: Line30 | None = Field(None, description="Stage code; default: the first open one.")
    responsible_id: Id | None = Field(
        None, description="Another employee (managers only); default: the key's owner."
    )


class DealOut(Schema):
    id: int
    title: str
    company_id: int
    counterparty_id: int
    contact_id: int | None
    amount: Decimal
    currency: str
    stage: str
    responsible_id: int
    created_at: datetime.datetime


class InvoiceLineIn(Schema):
    description: Line300
    quantity: Annotated[Decimal, Field(max_digits=12, decimal_places=3, allow_inf_nan=False)]
    unit: Line20 = ""
    unit_price: Annotated[Decimal, Field(max_digits=14, decimal_places=2, allow_inf_nan=False)]
    vat_rate: Annotated[Decimal, Field(max_digits=5, decimal_places=2, allow_inf_nan=False)]

    def line_data(self) -> LineData:
        """The line as crm.services.invoice_create takes it."""
        return LineData(
            description=self.description,
            quantity=self.quantity,
            unit=self.unit,
            unit_price=self.unit_price,
            vat_rate=self.vat_rate,
        )


class InvoiceIn(Schema):
    deal_id: Id
    issue_date: datetime.date
    due_date: datetime.date
    notes: Lines2000 = ""
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=500)


class InvoiceLineOut(Schema):
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal
    net: Decimal


class TotalsOut(Schema):
    net: Decimal
    vat: Decimal
    gross: Decimal


class InvoiceOut(Schema):
    id: int
    number: str
    deal_id: int
    status: str
    issue_date: datetime.date
    due_date: datetime.date
    currency: str
    notes: str
    lines: list[InvoiceLineOut]
    totals: TotalsOut


# --- Documents ---------------------------------------------------------------------------


class TemplateOut(Schema):
    id: int
    name: str
    kind: str
    language: str
    builtin: bool
    is_default_for_invoices: bool
    created_at: datetime.datetime


class TemplateIn(Schema):
    name: Line200
    kind: Literal["invoice", "agreement", "nda", "other"] = "other"
    language: Language
    body: str = Field(max_length=2_000_000, description="Sandboxed Django template (HTML).")
    css: str = Field("", max_length=2_000_000)


class TemplatePatch(Schema):
    name: Line200 | None = None
    kind: Literal["invoice", "agreement", "nda", "other"] | None = None
    language: Language | None = None
    body: str | None = Field(None, max_length=2_000_000)
    css: str | None = Field(None, max_length=2_000_000)


class FieldIn(Schema):
    kind: Literal[
        "signature",
        "initials",
        "stamp",
        "date",
        "text",
        "number",
        "checkbox",
        "name",
        "requisites",
    ]
    role: Role
    page: Annotated[int, Field(ge=1, le=10_000)]
    x: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    y: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    width: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    height: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    label: Line200 = ""
    required: bool = True


class FieldOut(Schema):
    id: int
    key: str
    kind: str
    role: str
    page: int
    x: float
    y: float
    width: float
    height: float
    label: str
    required: bool
    filled: bool = False
    method: str = ""


class DocumentOut(Schema):
    id: int
    public_id: str
    title: str
    source: str
    language: str
    page_count: int
    sha256: str
    locked: bool
    deal_id: int | None
    invoice_id: int | None
    created_at: datetime.datetime
    fields: list[FieldOut]


class FromTemplateIn(Schema):
    template_id: Id
    deal_id: Id | None = Field(None, description="Render with this deal's data.")
    invoice_id: Id | None = Field(None, description="Render this invoice (the deal's too).")
    title: Line200 = ""
    language: Language | None = Field(None, description="Default: the template's language.")


# --- Envelopes ---------------------------------------------------------------------------


class PartyIn(Schema):
    role: Role
    name: Line200
    email: Line254 = ""
    phone: Line30 = ""
    channel: Channel = "email"
    is_company: bool = Field(
        False, description="Signs for a legal entity (may be asked for a stamp)."
    )


class EnvelopeIn(Schema):
    document_id: Id
    parties: list[PartyIn] = Field(min_length=1, max_length=10, description="In signing order.")
    language: Language = "fr"
    deadline: datetime.datetime | None = Field(
        None, description="Default: SIGNFLOW_LINK_DEFAULT_DAYS after sending."
    )
    reminder_every_days: Annotated[int, Field(ge=0, le=365)] = 0
    reminder_max: Annotated[int, Field(ge=1, le=20)] = 3
    message: Lines1000 = ""
    require_client_stamp: bool = False
    send: bool = Field(False, description="Send at once (same as POST .../send afterwards).")


class CancelIn(Schema):
    reason: Lines2000


class CorrectIn(Schema):
    email: Line254 = ""
    phone: Line30 = ""
    channel: Channel | None = None


class PartyOut(Schema):
    id: int | None
    order: int
    role: str
    name: str
    email: str
    phone: str
    channel: str
    is_company: bool
    status: str
    opened_at: datetime.datetime | None = None
    signed_at: datetime.datetime | None = None
    declined_at: datetime.datetime | None = None
    decline_reason: str = ""


class MessageOut(Schema):
    id: int
    party_id: int | None
    channel: str
    recipient: str
    template: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime.datetime
    sent_at: datetime.datetime | None


class EventOut(Schema):
    id: int
    type: str
    party_id: int | None
    actor_id: int | None
    created_at: datetime.datetime
    data: dict[str, Any]
    hash: str


class SealedOut(Schema):
    code: str
    sha256: str
    sealed_at: datetime.datetime
    pdf_url: str
    certificate_url: str


class EnvelopeSummaryOut(Schema):
    id: int
    public_id: str
    title: str
    status: str
    language: str
    document_id: int
    deal_id: int | None
    counterparty_id: int | None
    responsible_id: int
    amount: Decimal | None
    currency: str
    deadline: datetime.datetime | None
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    status_changed_at: datetime.datetime | None
    completed_at: datetime.datetime | None


class EnvelopeOut(EnvelopeSummaryOut):
    reminder_every_days: int
    reminder_max: int
    reminders_sent: int
    message: str
    closed_reason: str
    parties: list[PartyOut]
    fields: list[FieldOut]
    messages: list[MessageOut]
    events: list[EventOut]
    sealed: SealedOut | None


class Page(Schema):
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class EnvelopePage(Page):
    items: list[EnvelopeSummaryOut]


class CounterpartyPage(Page):
    items: list[CounterpartyOut]


class DealPage(Page):
    items: list[DealOut]


class InvoicePage(Page):
    items: list[InvoiceOut]
