"""The API's typed input and output. Inputs are bounded (lengths, digits, id ranges) so that a
value the database cannot hold is refused with a field error, never a DataError and a 500; text
loses its control and bidi characters exactly as on the pages (signflow.text.clean_text)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints

from signflow.text import clean_text

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _line(value: str) -> str:
    return clean_text(value).strip()


def _multiline(value: str) -> str:
    return clean_text(value, multiline=True).strip()


def Line(max_length: int) -> Any:  # noqa: N802 (a type factory)
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_line)]


def Lines(max_length: int) -> Any:  # noqa: N802
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_multiline)]


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
    legal_form: Line(50) = ""  # type: ignore[valid-type]
    siren: Line(60) = ""  # type: ignore[valid-type]
    siret: Line(60) = ""  # type: ignore[valid-type]
    vat_number: Line(60) = ""  # type: ignore[valid-type]
    rcs_city: Line(100) = ""  # type: ignore[valid-type]
    address: Lines(1000) = ""  # type: ignore[valid-type]
    iban: Line(60) = ""  # type: ignore[valid-type]
    bic: Line(60) = ""  # type: ignore[valid-type]
    email: Line(254) = ""  # type: ignore[valid-type]
    phone: Line(60) = ""  # type: ignore[valid-type]


class CounterpartyIn(CounterpartyFields):
    kind: Literal["company", "individual"] = "company"
    legal_name: Line(200)  # type: ignore[valid-type]


class CounterpartyPatch(Schema):
    """Only the fields given change."""

    kind: Literal["company", "individual"] | None = None
    legal_name: Line(200) | None = None  # type: ignore[valid-type]
    legal_form: Line(50) | None = None  # type: ignore[valid-type]
    siren: Line(60) | None = None  # type: ignore[valid-type]
    siret: Line(60) | None = None  # type: ignore[valid-type]
    vat_number: Line(60) | None = None  # type: ignore[valid-type]
    rcs_city: Line(100) | None = None  # type: ignore[valid-type]
    address: Lines(1000) | None = None  # type: ignore[valid-type]
    iban: Line(60) | None = None  # type: ignore[valid-type]
    bic: Line(60) | None = None  # type: ignore[valid-type]
    email: Line(254) | None = None  # type: ignore[valid-type]
    phone: Line(60) | None = None  # type: ignore[valid-type]


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
    name: Line(200)  # type: ignore[valid-type]
    position: Line(100) = ""  # type: ignore[valid-type]
    email: Line(254) = ""  # type: ignore[valid-type]
    phone: Line(60) = ""  # type: ignore[valid-type]


class ContactPatch(Schema):
    name: Line(200) | None = None  # type: ignore[valid-type]
    position: Line(100) | None = None  # type: ignore[valid-type]
    email: Line(254) | None = None  # type: ignore[valid-type]
    phone: Line(60) | None = None  # type: ignore[valid-type]


class ContactOut(Schema):
    id: int
    counterparty_id: int
    name: str
    position: str
    email: str
    phone: str


class DealIn(Schema):
    title: Line(200)  # type: ignore[valid-type]
    counterparty_id: Id
    contact_id: Id | None = None
    company_id: Id | None = Field(None, description="Our company; default: the default one.")
    amount: Money = Decimal(0)
    currency: Literal["EUR", "USD", "GBP", "CHF"] = "EUR"
    stage: Line(30) | None = Field(None, description="Stage code; default: the first open one.")  # type: ignore[valid-type]
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
    description: Line(300)  # type: ignore[valid-type]
    quantity: Annotated[Decimal, Field(max_digits=12, decimal_places=3, allow_inf_nan=False)]
    unit: Line(20) = ""  # type: ignore[valid-type]
    unit_price: Annotated[Decimal, Field(max_digits=14, decimal_places=2, allow_inf_nan=False)]
    vat_rate: Annotated[Decimal, Field(max_digits=5, decimal_places=2, allow_inf_nan=False)]


class InvoiceIn(Schema):
    deal_id: Id
    issue_date: datetime.date
    due_date: datetime.date
    notes: Lines(2000) = ""  # type: ignore[valid-type]
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
    name: Line(200)  # type: ignore[valid-type]
    kind: Literal["invoice", "agreement", "nda", "other"] = "other"
    language: Language
    body: str = Field(max_length=2_000_000, description="Sandboxed Django template (HTML).")
    css: str = Field("", max_length=2_000_000)


class TemplatePatch(Schema):
    name: Line(200) | None = None  # type: ignore[valid-type]
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
    label: Line(200) = ""  # type: ignore[valid-type]
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
    title: Line(200) = ""  # type: ignore[valid-type]
    language: Language | None = Field(None, description="Default: the template's language.")


# --- Envelopes ---------------------------------------------------------------------------


class PartyIn(Schema):
    role: Role
    name: Line(200)  # type: ignore[valid-type]
    email: Line(254) = ""  # type: ignore[valid-type]
    phone: Line(30) = ""  # type: ignore[valid-type]
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
    message: Lines(1000) = ""  # type: ignore[valid-type]
    require_client_stamp: bool = False
    send: bool = Field(False, description="Send at once (same as POST .../send afterwards).")


class CancelIn(Schema):
    reason: Lines(2000)  # type: ignore[valid-type]


class CorrectIn(Schema):
    email: Line(254) = ""  # type: ignore[valid-type]
    phone: Line(30) = ""  # type: ignore[valid-type]
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
