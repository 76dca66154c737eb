"""Reads that span relations, written to avoid N+1 queries.

The board reads stay bounded whatever the number of envelopes: one GROUP BY for the column
counts, one keyset query for the cards of every column (each status walks its own index,
`status, -status_changed_at, -id`), one query for the cards' rows and one for their last
messages.
"""

import datetime
import hashlib
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from signing.access import is_manager, visible_envelopes
from signing.forms import BoardFilterForm
from signing.models import Envelope, Message, Party


def _with_parties(qs: QuerySet[Envelope]) -> QuerySet[Envelope]:
    return qs.prefetch_related(Prefetch("parties", queryset=Party.objects.order_by("order")))


def envelopes_for_deal(*, deal_id: int) -> QuerySet[Envelope]:
    return _with_parties(Envelope.objects.filter(deal_id=deal_id))


def envelopes_for_invoice(*, invoice_id: int) -> QuerySet[Envelope]:
    return _with_parties(Envelope.objects.filter(document__invoice_id=invoice_id))


# ---------------------------------------------------------------------------------------------
# Columns

S = Envelope.Status
BOARD_COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("draft", (S.DRAFT,)),
    ("awaiting_company", (S.AWAITING_COMPANY,)),
    ("awaiting_client", (S.AWAITING_CLIENT,)),
    # Every party signed: a failed seal is our problem to fix, not the client's refusal, so the
    # card stays here with a red marker rather than moving to "Not signed".
    ("signed", (S.SEALING, S.SEALING_FAILED, S.COMPLETED)),
    ("not_signed", (S.DECLINED, S.CANCELLED, S.EXPIRED)),
]
BOARD_TITLES = {
    "draft": gettext_lazy("Draft"),
    "awaiting_company": gettext_lazy("Awaiting our signature"),
    "awaiting_client": gettext_lazy("Awaiting client"),
    "signed": gettext_lazy("Signed"),
    "not_signed": gettext_lazy("Not signed"),
}
COLUMN_STATUSES = dict(BOARD_COLUMNS)
COLUMN_OF_STATUS = {status: key for key, statuses in BOARD_COLUMNS for status in statuses}
CARDS_PER_PAGE = 20
NEAR_DEADLINE = datetime.timedelta(hours=48)


# ---------------------------------------------------------------------------------------------
# Filters: every one lives in the query string, so a filtered board is a link to share.

SORTS = {
    "changed": ("-status_changed_at", "-id"),
    "-changed": ("status_changed_at", "id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "amount": ("amount", "id"),
    "-amount": ("-amount", "-id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
    "deadline": ("deadline", "id"),
    "-deadline": ("-deadline", "-id"),
    "status": ("status", "-status_changed_at", "-id"),
}
FILTER_KEYS = (
    "q",
    "responsible",
    "company",
    "counterparty",
    "created_from",
    "created_to",
    "amount_min",
    "amount_max",
    "mine",
    "overdue",
    "batch",
)


@dataclass
class BatchHook:
    """Envelopes sent together (bulk send): the app that makes batches registers how to list
    them and how to narrow envelopes to one (bulk.apps), so signing imports nothing of it."""

    choices: Callable[[Any], list[tuple[int, str]]]
    condition: Callable[[int], Q]


BATCH_HOOK: list[BatchHook] = []


def batch_choices(user: Any) -> list[tuple[int, str]]:
    return BATCH_HOOK[0].choices(user) if BATCH_HOOK else []


@dataclass
class BoardFilters:
    q: str = ""
    responsible: int | None = None
    company: int | None = None
    counterparty: int | None = None
    created_from: datetime.date | None = None
    created_to: datetime.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    mine: bool = False  # "needs my action"
    overdue: bool = False
    batch: int | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.raw)

    def querystring(self, **extra: str) -> str:
        """The filters as a query string (for links, load more, polling, CSV)."""
        from urllib.parse import urlencode

        return urlencode({**self.raw, **{k: v for k, v in extra.items() if v}})


def parse_filters(params: Mapping[str, Any], *, user: Any) -> BoardFilters:
    """Read the filters from a query string (signing.forms.BoardFilterForm); a value that does
    not parse is ignored."""
    form = BoardFilterForm({key: str(params.get(key, "")) for key in FILTER_KEYS})
    form.is_valid()  # the fields that did not parse are left out of cleaned_data
    data = form.cleaned_data
    filters = BoardFilters(
        q=(data.get("q") or "")[:100],
        # Only a manager chooses whose envelopes to see; an employee always sees their own.
        responsible=data.get("responsible") if is_manager(user) else None,
        company=data.get("company"),
        counterparty=data.get("counterparty"),
        created_from=data.get("created_from"),
        created_to=data.get("created_to"),
        amount_min=data.get("amount_min"),
        amount_max=data.get("amount_max"),
        mine=data.get("mine") == "1",
        overdue=data.get("overdue") == "1",
        batch=data.get("batch") if BATCH_HOOK else None,
    )
    kept = {
        "q": filters.q,
        "responsible": filters.responsible,
        "company": filters.company,
        "counterparty": filters.counterparty,
        "created_from": filters.created_from,
        "created_to": filters.created_to,
        "amount_min": filters.amount_min,
        "amount_max": filters.amount_max,
        "mine": "1" if filters.mine else "",
        "overdue": "1" if filters.overdue else "",
        "batch": filters.batch,
    }
    filters.raw = {key: str(value) for key, value in kept.items() if value not in (None, "")}
    return filters


def _last_contact_before(when: datetime.datetime) -> Q:
    return Q(last_reminded_at__lte=when) | Q(
        last_reminded_at__isnull=True, status_changed_at__lte=when
    )


def reminder_due_q(now: datetime.datetime) -> Q:
    """The one rule for "a reminder is due", as SQL (`is_reminder_due` is the same in Python).

    Open, reminders on, not capped, the deadline not passed (expiry comes first), and the last
    contact (the last reminder, else the last status change) older than the interval.

    One branch per interval (the send form offers a handful; 1 to 31 days covered) keeps the
    condition plain SQL on SQLite and PostgreSQL alike, without interval arithmetic.
    """
    due = Q(pk__in=[])
    for days in range(1, 32):
        due |= Q(reminder_every_days=days) & _last_contact_before(
            now - datetime.timedelta(days=days)
        )
    due |= Q(reminder_every_days__gt=31) & _last_contact_before(now - datetime.timedelta(days=31))
    return (
        Q(status__in=Envelope.OPEN_STATUSES)
        & Q(reminder_every_days__gt=0)
        & Q(reminders_sent__lt=F("reminder_max"))
        & (Q(deadline__isnull=True) | Q(deadline__gt=now))
        & due
    )


def is_reminder_due(envelope: Envelope, now: datetime.datetime) -> bool:
    """`reminder_due_q` for an envelope already loaded (the board's cards)."""
    if envelope.status not in Envelope.OPEN_STATUSES or envelope.reminder_every_days <= 0:
        return False
    if envelope.reminders_sent >= envelope.reminder_max:
        return False
    if envelope.deadline is not None and envelope.deadline <= now:
        return False
    last = envelope.last_reminded_at or envelope.status_changed_at
    interval = datetime.timedelta(days=min(envelope.reminder_every_days, 31))
    return last is not None and last <= now - interval


def needs_action_q(*, user: Any, now: datetime.datetime) -> Q:
    """Open envelopes of mine with a failed message, a reminder due or a deadline near."""
    failed = Exists(
        Message.objects.filter(envelope_id=OuterRef("pk"), status=Message.Status.FAILED)
    )
    near = Q(deadline__isnull=False, deadline__lte=now + NEAR_DEADLINE)
    return (
        Q(responsible_id=user.pk)
        & Q(status__in=Envelope.OPEN_STATUSES)
        & (Q(failed) | reminder_due_q(now) | near)
    )


def overdue_q(now: datetime.datetime) -> Q:
    return Q(status__in=Envelope.OPEN_STATUSES, deadline__isnull=False, deadline__lt=now)


def filtered_envelopes(*, user: Any, filters: BoardFilters) -> QuerySet[Envelope]:
    """The envelopes the user may see, narrowed by the filters (one .filter() per condition,
    as chained calls)."""
    now = timezone.now()
    conditions = [*_search_conditions(filters), *_range_conditions(filters)]
    if filters.mine:
        conditions.append(needs_action_q(user=user, now=now))
    if filters.overdue:
        conditions.append(overdue_q(now))
    if filters.batch and BATCH_HOOK:
        conditions.append(BATCH_HOOK[0].condition(filters.batch))
    qs = visible_envelopes(user)
    for condition in conditions:
        qs = qs.filter(condition)
    return qs


def _search_conditions(filters: BoardFilters) -> list[Q]:
    """The search box and the people filters."""
    conditions = []
    if filters.q:
        conditions.append(
            Q(title__icontains=filters.q)
            | Q(counterparty__legal_name__icontains=filters.q)
            | Q(public_id=filters.q.upper())
        )
    if filters.responsible:
        conditions.append(Q(responsible_id=filters.responsible))
    if filters.company:
        conditions.append(Q(company_id=filters.company))
    if filters.counterparty:
        conditions.append(Q(counterparty_id=filters.counterparty))
    return conditions


def _range_conditions(filters: BoardFilters) -> list[Q]:
    """The creation period (whole days, local time) and the amount range."""
    conditions = []
    tz = timezone.get_current_timezone()
    if filters.created_from:
        start = datetime.datetime.combine(filters.created_from, datetime.time.min, tz)
        conditions.append(Q(created_at__gte=start))
    if filters.created_to:
        end = datetime.datetime.combine(
            filters.created_to + datetime.timedelta(days=1), datetime.time.min, tz
        )
        conditions.append(Q(created_at__lt=end))
    if filters.amount_min is not None:
        conditions.append(Q(amount__gte=filters.amount_min))
    if filters.amount_max is not None:
        conditions.append(Q(amount__lte=filters.amount_max))
    return conditions


# ---------------------------------------------------------------------------------------------
# Column statistics and the "changed since" version


def status_stats(qs: QuerySet[Envelope]) -> dict[str, dict[str, Any]]:
    """Per status: count, total amount, latest stage change and reminder. One GROUP BY."""
    rows = (
        qs.order_by()
        .values("status")
        .annotate(
            n=Count("id"),
            total=Sum("amount"),
            latest=Max("status_changed_at"),
            reminded=Max("last_reminded_at"),
        )
    )
    return {row["status"]: dict(row) for row in rows}


def data_version(qs: QuerySet[Envelope]) -> str:
    """Latest stage change and latest reminder of the set: two index probes, not a scan.

    Every status change, new envelope and reminder moves one of them (services._set_status
    stamps status_changed_at), so an unchanged pair means unchanged columns.
    """
    row = qs.order_by().aggregate(latest=Max("status_changed_at"), reminded=Max("last_reminded_at"))
    return hashlib.sha256(f"{row['latest']}|{row['reminded']}".encode()).hexdigest()[:12]


STATS_TTL = 30  # seconds; heals what no timestamp reveals (an amount edited in the admin)


def cached_stats(
    qs: QuerySet[Envelope], *, scope: str, filters: "BoardFilters", version: str
) -> dict[str, dict[str, Any]]:
    """status_stats, computed once per data version: counting 100 000 rows is the one read of
    the board that grows with the data, so it is paid when something changed, not per view."""
    from django.core.cache import cache

    key = (
        "board-stats:"
        + hashlib.sha256(f"{scope}|{filters.querystring()}|{version}".encode()).hexdigest()
    )
    stats = cache.get(key)
    if stats is None:
        stats = status_stats(qs)
        cache.set(key, stats, STATS_TTL)
    return stats


def column_versions(stats: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A short fingerprint per column: it changes when a card enters, leaves or is reminded."""
    versions = {}
    for key, statuses in BOARD_COLUMNS:
        parts = []
        for status in statuses:
            row = stats.get(status)
            if row:
                parts.append(
                    f"{status}:{row['n']}:{row['total']}:{row['latest']}:{row['reminded']}"
                )
        versions[key] = hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]
    return versions


def encode_versions(data: str, versions: dict[str, str]) -> str:
    """The poller's token: the data version, then each column's fingerprint."""
    return ".".join([data, *(versions[key] for key, _ in BOARD_COLUMNS)])


def decode_versions(value: str) -> tuple[str, dict[str, str]]:
    parts = (value or "").split(".")
    if len(parts) != len(BOARD_COLUMNS) + 1:
        return "", {}
    columns = {key: part for (key, _), part in zip(BOARD_COLUMNS, parts[1:], strict=True)}
    return parts[0], columns


# ---------------------------------------------------------------------------------------------
# Cards


@dataclass(frozen=True)
class Cursor:
    """Keyset position in a column: the last card shown (stage change time, id)."""

    changed: datetime.datetime
    pk: int

    def encode(self) -> str:
        return f"{int(self.changed.timestamp() * 1_000_000)}_{self.pk}"

    @classmethod
    def decode(cls, value: str | None) -> "Cursor | None":
        try:
            micros, pk = (value or "").split("_")
            changed = datetime.datetime.fromtimestamp(int(micros) / 1_000_000, tz=datetime.UTC)
            return cls(changed=changed, pk=int(pk))
        except (ValueError, OverflowError, OSError):
            return None


KeyRow = tuple[int, str, datetime.datetime]  # (id, status, status_changed_at) of a card
_StatusRow = tuple[int, str, datetime.datetime | None]  # as the database types the column


def _status_page(
    qs: QuerySet[Envelope], status: str, after: Cursor | None, limit: int
) -> QuerySet[Envelope, _StatusRow]:
    page = qs.filter(status=status, status_changed_at__isnull=False)
    if after is not None:
        page = page.filter(
            Q(status_changed_at__lt=after.changed)
            | Q(status_changed_at=after.changed, pk__lt=after.pk)
        )
    return page.order_by("-status_changed_at", "-pk").values_list(
        "pk", "status", "status_changed_at"
    )[:limit]


def _page_keys(
    qs: QuerySet[Envelope], statuses: Iterable[str], after: Cursor | None, limit: int
) -> list[KeyRow]:
    """Up to `limit` newest (id, status, changed) per status, in as few queries as the DB allows.

    `status IN (...) ORDER BY changed` cannot walk an index and sorts the whole column; one
    index walk per status, glued with UNION ALL, reads only `limit` rows of each.
    """
    pages = [_status_page(qs, status, after, limit) for status in statuses]
    if not pages:
        return []
    rows: list[_StatusRow] = []
    if connection.features.supports_slicing_ordering_in_compound and len(pages) > 1:
        rows.extend(pages[0].union(*pages[1:], all=True))
    else:
        for page in pages:
            rows.extend(page)
    # Every page filters status_changed_at IS NOT NULL; this tells the type checker so.
    return [(pk, status, changed) for pk, status, changed in rows if changed is not None]


def _initials(user: User) -> str:
    first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
    if first or last:
        return f"{first[:1]}{last[:1]}".upper()
    return user.get_username()[:2].upper()


@dataclass(frozen=True)
class Card:
    """An envelope as a board card or a list row shows it (signing/_card.html, board_list.html):
    the envelope itself, its last message to a party and the flags computed once."""

    envelope: Envelope
    last_message: Message | None
    initials: str
    column: str  # the board column key of its status
    deadline_near: bool
    overdue: bool
    reminder_due: bool
    alert: bool  # shown in red: deadline near, reminder due or sealing failed
    download: bool  # the sealed PDF can be downloaded

    @classmethod
    def of(cls, envelope: Envelope, last_message: Message | None, now: datetime.datetime) -> "Card":
        is_open = envelope.status in Envelope.OPEN_STATUSES
        deadline = envelope.deadline if is_open else None
        deadline_near = bool(deadline and deadline <= now + NEAR_DEADLINE)
        reminder_due = is_reminder_due(envelope, now)
        sealing_failed = envelope.status == Envelope.Status.SEALING_FAILED
        return cls(
            envelope=envelope,
            last_message=last_message,
            initials=_initials(envelope.responsible),
            column=COLUMN_OF_STATUS.get(envelope.status, ""),
            deadline_near=deadline_near,
            overdue=bool(deadline and deadline < now),
            reminder_due=reminder_due,
            alert=deadline_near or reminder_due or sealing_failed,
            download=envelope.status == Envelope.Status.COMPLETED
            and envelope.sealed_id is not None,
        )


def _cards(envelopes: list[Envelope], now: datetime.datetime) -> list[Card]:
    """Last message per card in one query, and the flags a card shows."""
    ids = [envelope.pk for envelope in envelopes]
    latest_ids = (
        Message.objects.filter(envelope_id__in=ids, party__isnull=False)
        .order_by()
        .values("envelope_id")
        .annotate(last=Max("id"))
        .values("last")
    )
    last = {m.envelope_id: m for m in Message.objects.filter(pk__in=latest_ids)} if ids else {}
    return [Card.of(envelope, last.get(envelope.pk), now) for envelope in envelopes]


def _cards_by_id(ids: list[int]) -> dict[int, Card]:
    envelopes = list(
        Envelope.objects.filter(pk__in=ids).select_related("counterparty", "responsible", "company")
    )
    return {card.envelope.pk: card for card in _cards(envelopes, timezone.now())}


def card(*, envelope_id: int) -> Card:
    """One card, computed like on the board (after an action on it)."""
    return _cards_by_id([envelope_id])[envelope_id]


def _next_cursor(cards: list[Card], has_more: bool) -> str:
    """Where "load more" continues: after the last card shown (none when nothing is left)."""
    if not (has_more and cards):
        return ""
    last = cards[-1].envelope
    if last.status_changed_at is None:  # never: pages only hold cards with a stage change time
        return ""
    return Cursor(changed=last.status_changed_at, pk=last.pk).encode()


def _column(
    key: str, stats: dict[str, dict[str, Any]], cards: list[Card], has_more: bool
) -> dict[str, Any]:
    statuses = COLUMN_STATUSES[key]
    count = sum(stats.get(s, {}).get("n", 0) for s in statuses)
    total = sum(
        (Decimal(str(stats.get(s, {}).get("total") or 0)) for s in statuses), Decimal(0)
    ).quantize(Decimal("0.01"))  # SQLite sums decimals as floats
    by_status = [
        (Envelope.Status(s).label, stats[s]["n"]) for s in statuses if stats.get(s, {}).get("n")
    ]
    return {
        "key": key,
        "title": BOARD_TITLES[key],
        "count": count,
        "total": total,
        "by_status": by_status,
        "cards": cards,
        "next": _next_cursor(cards, has_more),
    }


def _pages_for(
    qs: QuerySet[Envelope], keys: list[str], after: Cursor | None, limit: int
) -> dict[str, tuple[list[Card], bool]]:
    statuses = [status for key in keys for status in COLUMN_STATUSES[key]]
    rows = _page_keys(qs, statuses, after, limit + 1)
    per_column: dict[str, list[tuple[int, str, datetime.datetime]]] = defaultdict(list)
    for row in rows:
        per_column[COLUMN_OF_STATUS[row[1]]].append(row)
    chosen: dict[str, tuple[list[int], bool]] = {}
    for key in keys:
        ordered = sorted(per_column[key], key=lambda r: (r[2], r[0]), reverse=True)
        chosen[key] = ([r[0] for r in ordered[:limit]], len(ordered) > limit)
    by_id = _cards_by_id([pk for ids, _ in chosen.values() for pk in ids])
    return {key: ([by_id[pk] for pk in ids], more) for key, (ids, more) in chosen.items()}


@dataclass
class Board:
    filters: BoardFilters
    columns: list[dict[str, Any]]
    data: str
    versions: dict[str, str]

    @property
    def version(self) -> str:
        return encode_versions(self.data, self.versions)


def _scope(user: Any, filters: BoardFilters) -> str:
    """Whose envelopes the stats cover: everyone's (managers) or one employee's."""
    if is_manager(user) and not filters.mine:
        return "all"
    return f"user:{user.pk}"


def _stats_for(
    user: Any, filters: BoardFilters, qs: QuerySet[Envelope]
) -> tuple[str, dict[str, dict[str, Any]]]:
    data = data_version(qs)
    return data, cached_stats(qs, scope=_scope(user, filters), filters=filters, version=data)


def board(*, user: Any, params: Mapping[str, Any], only: Iterable[str] | None = None) -> Board:
    """The board's columns (all, or `only` those keys) with counts, totals and first cards."""
    filters = parse_filters(params, user=user)
    qs = filtered_envelopes(user=user, filters=filters)
    data, stats = _stats_for(user, filters, qs)
    keys = [key for key, _ in BOARD_COLUMNS if only is None or key in set(only)]
    pages = _pages_for(qs, keys, None, CARDS_PER_PAGE) if keys else {}
    columns = [_column(key, stats, *pages[key]) for key in keys]
    return Board(filters=filters, columns=columns, data=data, versions=column_versions(stats))


def board_columns(*, user: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each column with its count, total amount and first cards: a fixed number of queries."""
    return board(user=user, params=params).columns


def board_changes(*, user: Any, params: Mapping[str, Any], seen: str) -> tuple[str, Board | None]:
    """The "changed since" check. Unchanged data: one query (two index probes), no board.
    Changed: the columns whose fingerprint differs from what the browser shows, and only them.
    """
    filters = parse_filters(params, user=user)
    qs = filtered_envelopes(user=user, filters=filters)
    seen_data, seen_columns = decode_versions(seen)
    data = data_version(qs)
    if data == seen_data:
        return data, None
    stats = cached_stats(qs, scope=_scope(user, filters), filters=filters, version=data)
    versions = column_versions(stats)
    changed = [key for key, value in versions.items() if seen_columns.get(key) != value]
    return data, board(user=user, params=params, only=changed)


def column_page(
    *, user: Any, params: Mapping[str, Any], key: str, after: Cursor | None
) -> tuple[BoardFilters, list[Card], str]:
    """The next cards of one column after a keyset cursor (load more): no count, no offset."""
    filters = parse_filters(params, user=user)
    qs = filtered_envelopes(user=user, filters=filters)
    cards, more = _pages_for(qs, [key], after, CARDS_PER_PAGE)[key]
    return filters, cards, _next_cursor(cards, more)


# ---------------------------------------------------------------------------------------------
# The list view and its CSV export


LIST_PAGE = 50


def envelope_list(
    *, user: Any, params: Mapping[str, Any], sort: str, page: int
) -> tuple[BoardFilters, list[Card], bool]:
    """One page of the filtered envelopes, sorted; whether there is a next page."""
    filters = parse_filters(params, user=user)
    qs = filtered_envelopes(user=user, filters=filters).order_by(*SORTS[sort])
    start = (page - 1) * LIST_PAGE
    rows = list(
        qs.select_related("counterparty", "responsible", "company")[start : start + LIST_PAGE + 1]
    )
    return filters, _cards(rows[:LIST_PAGE], timezone.now()), len(rows) > LIST_PAGE


def envelope_export_rows(*, user: Any, params: Mapping[str, Any], sort: str) -> Iterable[Envelope]:
    """Every filtered envelope the user may see, streamed from the database in chunks."""
    filters = parse_filters(params, user=user)
    qs = (
        filtered_envelopes(user=user, filters=filters)
        .order_by(*SORTS[sort])
        .select_related("counterparty", "responsible", "company")
    )
    return qs.iterator(chunk_size=2000)


# ---------------------------------------------------------------------------------------------
# Oversight


def team_overview(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Per employee: envelopes per column, overdue, signed this month, median send-to-completion,
    declined ones with reasons; and documents completed per week (last 12 weeks)."""
    from crm.models import Employee

    now = now or timezone.now()
    local_now = timezone.localtime(now)
    month_start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    employees = list(
        Employee.objects.select_related("user").order_by("user__last_name", "user__username")
    )
    counts, declined_counts = _column_counts()
    overdue = _count_by_responsible(Envelope.objects.filter(overdue_q(now)))
    signed_month = _count_by_responsible(
        Envelope.objects.filter(status=Envelope.Status.COMPLETED, completed_at__gte=month_start)
    )
    durations = _completion_durations(now)
    declined = latest_declined()
    rows = []
    for employee in employees:
        uid = employee.user_id
        spent = durations.get(uid)
        rows.append(
            {
                "employee": employee,
                "initials": _initials(employee.user),
                "columns": [counts[uid].get(key, 0) for key, _ in BOARD_COLUMNS],
                "overdue": overdue.get(uid, 0),
                "signed_month": signed_month.get(uid, 0),
                "median": duration_text(statistics.median(spent)) if spent else "",
                "declined": declined.get(uid, []),
                "declined_count": declined_counts.get(uid, 0),
            }
        )
    return {"rows": rows, "weeks": completed_per_week(now=now)}


def _column_counts() -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    """Per responsible: envelopes per board column, and declined ones. One GROUP BY."""
    per_status = (
        Envelope.objects.order_by().values("responsible_id", "status").annotate(n=Count("id"))
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    declined_counts: dict[int, int] = defaultdict(int)
    for row in per_status:
        counts[row["responsible_id"]][COLUMN_OF_STATUS[row["status"]]] += row["n"]
        if row["status"] == Envelope.Status.DECLINED:
            declined_counts[row["responsible_id"]] += row["n"]
    return counts, declined_counts


def _count_by_responsible(qs: QuerySet[Envelope]) -> dict[int, int]:
    return dict(
        qs.order_by()
        .values("responsible_id")
        .annotate(n=Count("id"))
        .values_list("responsible_id", "n")
    )


def _completion_durations(now: datetime.datetime) -> dict[int, list[float]]:
    """Send-to-completion seconds per responsible, for the median: the last 180 days of
    completions keep this bounded."""
    durations: dict[int, list[float]] = defaultdict(list)
    for responsible_id, sent_at, completed_at in (
        Envelope.objects.filter(
            status=Envelope.Status.COMPLETED,
            sent_at__isnull=False,
            completed_at__gte=now - datetime.timedelta(days=180),
        )
        .values_list("responsible_id", "sent_at", "completed_at")
        .iterator(chunk_size=5000)
    ):
        if completed_at is not None and sent_at is not None:
            durations[responsible_id].append((completed_at - sent_at).total_seconds())
    return durations


DECLINED_PER_EMPLOYEE = 5


def latest_declined(per_employee: int = DECLINED_PER_EMPLOYEE) -> dict[int, list[Envelope]]:
    """Each employee's latest declined envelopes, at most `per_employee` each, in one query.

    Ranked per employee in the database (ROW_NUMBER over each employee's own rows): a cap on
    the whole list would leave employees late in the order with none.
    """
    rank = Window(
        RowNumber(),
        partition_by=[F("responsible_id")],
        order_by=[F("status_changed_at").desc(), F("id").desc()],
    )
    declined: dict[int, list[Envelope]] = defaultdict(list)
    for envelope in (
        Envelope.objects.filter(status=Envelope.Status.DECLINED)
        .annotate(rank=rank)
        .filter(rank__lte=per_employee)
        .order_by("responsible_id", "-status_changed_at", "-id")
        .only("id", "title", "closed_reason", "status_changed_at", "responsible_id")
    ):
        declined[envelope.responsible_id].append(envelope)
    return declined


def duration_text(seconds: float) -> str:
    """ "3 days 4 hours", "5 hours", "12 minutes": precise enough for a median."""
    minutes = int(seconds // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        text = ngettext("%d day", "%d days", days) % days
        if hours:
            text += " " + ngettext("%d hour", "%d hours", hours) % hours
        return text
    if hours:
        return ngettext("%d hour", "%d hours", hours) % hours
    return ngettext("%d minute", "%d minutes", minutes) % minutes


def completed_per_week(*, now: datetime.datetime, weeks: int = 12) -> list[dict[str, Any]]:
    """Documents completed in each of the last `weeks` weeks (Monday to Sunday, local time)."""
    local = timezone.localtime(now)
    monday = (local - datetime.timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    starts = [monday - datetime.timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    times = Envelope.objects.filter(
        status=Envelope.Status.COMPLETED, completed_at__gte=starts[0]
    ).values_list("completed_at", flat=True)
    buckets = [0] * weeks
    for completed_at in times.iterator(chunk_size=5000):
        if completed_at is None:
            continue
        index = int((completed_at - starts[0]).total_seconds() // (7 * 86400))
        if 0 <= index < weeks:
            buckets[index] += 1
    return [{"start": start, "count": count} for start, count in zip(starts, buckets, strict=True)]


def manager_chart(
    weeks: list[dict[str, Any]], *, width: int = 600, height: int = 180
) -> dict[str, Any]:
    """Bar geometry for the server-rendered SVG chart."""
    top = max((w["count"] for w in weeks), default=0) or 1
    gap, left, bottom = 6, 30, 22
    bar = (width - left - gap * len(weeks)) / max(len(weeks), 1)
    bars = []
    for index, week in enumerate(weeks):
        h = (height - bottom - 10) * week["count"] / top
        # Coordinates as strings: a float in a template is localised ("36,5" in French),
        # which is not a number SVG understands.
        bars.append(
            {
                "x": f"{left + index * (bar + gap):.1f}",
                "y": f"{height - bottom - h:.1f}",
                "w": f"{bar:.1f}",
                "h": f"{h:.1f}",
                "count": week["count"],
                "start": week["start"],
                "label_x": f"{left + index * (bar + gap) + bar / 2:.1f}",
            }
        )
    return {"width": width, "height": height, "bars": bars, "top": top, "base": height - bottom}
