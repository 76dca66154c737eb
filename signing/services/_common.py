"""What every signing service shares: the error, links, the envelope lock, status changes,
messaging a party and the deal timeline.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone, translation
from django.utils.formats import date_format

from crm import services as crm_services
from crm.models import OwnCompany
from documents.models import Document
from signflow.errors import Conflict, SignFlowError
from signing import tokens
from signing.models import Envelope, Message, Party
from signing.notifications import message_queue

Actor = User | AnonymousUser | None


class SigningError(SignFlowError):
    """A rule of the workflow was broken. `code` is stable, `message` is for a person."""

    def __init__(
        self, code: str, message: Any, *, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(code, message, fields=fields)


class SigningConflict(SigningError, Conflict):
    """The envelope's, party's or message's state forbids it now (already sent, signed,
    cancelled, not failed...): a SigningError for the pages, a 409 for the JSON API."""


# ---------------------------------------------------------------------------------------------
# Links


def signing_link(party: Party) -> str:
    token = tokens.token_for(party_id=party.pk, nonce=party.token_nonce)
    return f"{settings.SIGNFLOW_BASE_URL}/s/{token}/"


# What the signer page reads of the party's envelope, document and company (signer_views.sign_page,
# link_problem, page_sizes, party_open): a fraction of their ~75 columns, so the one query of
# every page view selects and builds less. A column read that is not here costs one more query,
# which tests/signing/test_query_counts.py would see.
PAGE_COLUMNS = (
    *("envelope__title", "envelope__status", "envelope__language", "envelope__deadline"),
    *("envelope__completed_at", "envelope__sealed_id", "envelope__document_id"),
    *("envelope__company_id", "envelope__document__sha256", "envelope__document__pdf"),
    *("envelope__document__page_count", "envelope__company__legal_name"),
    "envelope__company__default_stamp",
)


def party_for_token(token: str, *, page: bool = False) -> Party | None:
    """The party a link names, with its envelope, document and company; `page`: only the
    envelope's, document's and company's columns the signer page reads (the party's all)."""
    if not token or len(token) > 100:
        return None
    if page:
        return _page_party(tokens.hash_token(token))
    # [:1] and order_by(): a hash names one party, so no ORDER BY to build and sort.
    found = (
        Party.objects.select_related("envelope", "envelope__document", "envelope__company")
        .filter(token_hash=tokens.hash_token(token))
        .exclude(token_hash="")
        .order_by()
    )
    return next(iter(found[:1]), None)


# The page load in raw SQL (the ORM spent ~0.9 ms of CPU compiling the same select_related
# query on every signer request): the party's columns, its envelope's, document's and
# company's PAGE_COLUMNS, built with Model.from_db as select_related would.
_PAGE_JOINS: tuple[tuple[str, str, type[models.Model], str], ...] = (
    ("p", "", Party, ""),
    ("e", "envelope__", Envelope, "INNER JOIN {table} e ON e.{pk} = p.envelope_id"),
    ("d", "envelope__document__", Document, "INNER JOIN {table} d ON d.{pk} = e.document_id"),
    ("c", "envelope__company__", OwnCompany, "LEFT OUTER JOIN {table} c ON c.{pk} = e.company_id"),
)
_Layout = list[tuple[type[models.Model], list[tuple[Any, list[Any]]]]]


def _page_fields(prefix: str, model: type[models.Model]) -> list[Any]:
    """The concrete fields of `model` the page loads: the party's all, the others' primary
    key and PAGE_COLUMNS."""
    wanted = {c[len(prefix) :] for c in PAGE_COLUMNS if c.startswith(prefix)}
    return [
        f
        for f in model._meta.concrete_fields
        if not prefix or f.primary_key or f.name in wanted or f.attname in wanted
    ]


def _converters(col: Any, connection: Any) -> list[Any]:
    """What the ORM's compiler applies to the column's raw value: the backend's, then the
    field's converters."""
    return [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]


@functools.cache
def _page_query(using: str) -> tuple[str, _Layout]:
    """The page load's SQL (parameterised by token hash) and, per model, each column's
    expression with its converters on the database `using`."""
    connection = connections[using]
    quote = connection.ops.quote_name
    columns: list[str] = []
    joins: list[str] = []
    layout: _Layout = []
    for alias, prefix, model, join in _PAGE_JOINS:
        fields = _page_fields(prefix, model)
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        if join:
            joins.append(
                join.format(table=quote(model._meta.db_table), pk=quote(str(model._meta.pk.column)))
            )
        cols = [f.get_col(alias) for f in fields]
        layout.append((model, [(c, _converters(c, connection)) for c in cols]))
    sql = (
        # Names from the models' metadata, never from the request; the hash is a parameter.
        f"SELECT {', '.join(columns)} FROM {quote(Party._meta.db_table)} p {' '.join(joins)}"  # noqa: S608
        " WHERE p.token_hash = %s AND p.token_hash <> '' LIMIT 1"
    )
    return sql, layout


def _page_party(token_hash: str) -> Party | None:
    """The page load: the party by token hash, its envelope, document and company (or None)
    cached on it as select_related would leave them."""
    connection = connections[DEFAULT_DB_ALIAS]
    sql, layout = _page_query(DEFAULT_DB_ALIAS)
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    built: list[Any] = []
    start = 0
    for model, columns in layout:
        values = list(row[start : start + len(columns)])
        start += len(columns)
        for i, (col, converters) in enumerate(columns):
            for converter in converters:
                values[i] = converter(values[i], col, connection)
        names = [col.target.attname for col, _converters in columns]
        # The primary key is the first column: None only for a missing company (LEFT JOIN).
        built.append(None if values[0] is None else model.from_db(DEFAULT_DB_ALIAS, names, values))
    party, envelope, document, company = built
    party._state.fields_cache["envelope"] = envelope
    envelope._state.fields_cache.update(document=document, company=company)
    document._state.fields_cache["envelope"] = envelope
    return cast(Party, party)


def _issue_link(party: Party) -> str:
    party.token_nonce = tokens.new_nonce()
    party.token_hash = tokens.hash_token(
        tokens.token_for(party_id=party.pk, nonce=party.token_nonce)
    )
    party.token_issued_at = timezone.now()
    return signing_link(party)


def _deadline_passed(envelope: Envelope) -> bool:
    return envelope.deadline is not None and envelope.deadline <= timezone.now()


def _local(dt: datetime | None, language: str) -> str:
    if dt is None:
        return ""
    with translation.override(language):
        return date_format(timezone.localtime(dt), "DATETIME_FORMAT")


def _base_context(envelope: Envelope) -> dict[str, Any]:
    sender = envelope.responsible
    company = envelope.company.legal_name if envelope.company else ""
    return {
        "title": envelope.title,
        "sender_name": sender.get_full_name() or sender.get_username(),
        "sender_company": company or "SignFlow",
        "company_name": company or "SignFlow",
        "deadline": _local(envelope.deadline, envelope.language),
        "note": envelope.note,
    }


def _invite(
    envelope: Envelope, party: Party, *, template: str = Message.Template.INVITATION
) -> None:
    """Give `party` a fresh link and queue the message that carries it."""
    link = _issue_link(party)
    party.status = Party.Status.ACTIVE
    party.save(update_fields=["token_nonce", "token_hash", "token_issued_at", "status"])
    message_party(envelope, party, template, party_name=party.name, link=link)


def message_party(
    envelope: Envelope, party: Party, template: str, *, attach_sealed: bool = False, **context: Any
) -> Message:
    """Queue `template` to `party` on its own channel, with the envelope's common context
    (title, sender, company, deadline, note) plus `context`, in the current transaction."""
    return message_queue(
        envelope=envelope,
        party=party,
        template=template,
        channel=party.channel,
        recipient=party.recipient,
        attach_sealed=attach_sealed,
        context={**_base_context(envelope), **context},
    )


def _notify_sender(envelope: Envelope, template: str, context: dict[str, Any]) -> None:
    email = envelope.responsible.email
    if email:
        message_queue(
            envelope=envelope,
            template=template,
            channel=Party.Channel.EMAIL,
            recipient=email,
            context={**_base_context(envelope), **context},
        )


def _lock(envelope_id: int) -> Envelope:
    return (
        Envelope.objects.select_for_update(of=("self",))
        .select_related("responsible", "company", "document")
        .get(pk=envelope_id)
    )


def _set_status(envelope: Envelope, status: str, *extra: str) -> None:
    envelope.status = status
    envelope.status_changed_at = timezone.now()
    envelope.save(update_fields=["status", "status_changed_at", *extra])


def _deal_timeline(
    envelope: Envelope,
    kind: str,
    text: str = "",
    *,
    params: dict[str, Any] | None = None,
    actor: Actor = None,
) -> None:
    """One event on the envelope's deal timeline, through crm.services (which words it in the
    reader's language at display time: crm.timeline).

    The parameters come from the envelope's state, as the caller just left it: the document's
    title always, who signed last for "party_signed", who declined and why for "declined",
    the reason of a cancellation. `text` is kept only as the fallback sentence.
    """
    if not envelope.deal_id:
        return
    data: dict[str, Any] = {"title": envelope.title, "envelope": envelope.public_id}
    if kind in {"cancelled", "declined"}:
        data["reason"] = envelope.closed_reason[:300]
    if kind in {"party_signed", "declined"}:
        status = Party.Status.SIGNED if kind == "party_signed" else Party.Status.DECLINED
        party = (
            envelope.parties.filter(status=status).order_by("-signed_at", "-order").first()
            if status == Party.Status.SIGNED
            else envelope.parties.filter(status=status).first()
        )
        data["name"] = party.name if party else ""
    data.update(params or {})
    crm_services.deal_timeline_add(
        deal=envelope.deal_id, kind=kind, params=data, text=text, actor=actor
    )


def _crm_follow_signature(envelope: Envelope) -> None:
    """The envelope is completed: its invoice becomes Signed and its deal moves to the
    pipeline's signature stage, in the caller's transaction (the completion's)."""
    _deal_timeline(envelope, "signed")
    invoice = envelope.document.invoice if envelope.document_id else None
    if invoice is not None:
        crm_services.invoice_mark_signed(invoice=invoice, title=envelope.title)
    if envelope.deal_id:
        crm_services.deal_move_on_signature(deal=envelope.deal_id, title=envelope.title)
