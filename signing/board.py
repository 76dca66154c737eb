"""The Kanban board of envelopes, its list view and CSV export, and the manager's pages.

Card actions post to views here, which call the existing services (signing.services) or, for
a message retry, the existing view; each answers with the re-rendered card when htmx asks and
with a redirect back to the board otherwise, so every action also works without JavaScript.
"""

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import services as crm_services
from crm.models import Counterparty, Employee, OwnCompany
from signflow.errors import SignFlowError
from signflow.text import clean_text
from signing import access, selectors, services
from signing.models import Envelope, Party


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def _htmx_target(request: HttpRequest) -> str | None:
    """The id of the element an htmx request will swap (None for a plain request)."""
    details = getattr(request, "htmx", None)
    return details.target if details else None


def _filter_choices(request: HttpRequest, filters: selectors.BoardFilters) -> dict[str, Any]:
    """The options of the filter form (small tables: companies, employees, clients in use)."""
    if not access.is_employee(request.user):
        # A user without an Employee profile sees no envelope, and no client or company names.
        return {
            "companies": [],
            "employees": [],
            "selected_counterparty": None,
            "counterparties": [],
            "batches": [],
        }
    manager = access.is_manager(request.user)
    choices: dict[str, Any] = {
        "companies": list(
            OwnCompany.objects.order_by("legal_name").values_list("pk", "legal_name")
        ),
        "employees": (
            list(
                Employee.objects.select_related("user")
                .order_by("user__last_name", "user__username")
                .values_list("user_id", "user__first_name", "user__last_name", "user__username")
            )
            if manager
            else []
        ),
        "selected_counterparty": (
            Counterparty.objects.filter(pk=filters.counterparty)
            .values_list("pk", "legal_name")
            .first()
            if filters.counterparty
            else None
        ),
        "counterparties": list(
            Counterparty.objects.order_by("legal_name").values_list("pk", "legal_name")[:300]
        ),
        # Bulk sends the user may see (empty when no app registers batches).
        "batches": selectors.batch_choices(request.user),
    }
    return choices


# ---------------------------------------------------------------------------------------------
# The board


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    data = selectors.board(user=request.user, params=request.GET)
    context = {
        "board": data,
        "columns": data.columns,
        "filters": data.filters,
        "qs": data.filters.querystring(),
        "is_manager": access.is_manager(request.user),
    }
    if _htmx_target(request) == "board":
        response = render(request, "signing/board.html#board", context)
        # The address bar gets the clean, shareable filter (no empty fields).
        response["HX-Push-Url"] = _with_query(reverse("signing:board"), str(context["qs"]))
        return response
    context.update(_filter_choices(request, data.filters))
    return render(request, "signing/board.html", context)


@login_required
@require_GET
def board_changes(request: HttpRequest) -> HttpResponse:
    """Polled every few seconds: 204 when nothing moved, else only the columns that changed."""
    data, changed = selectors.board_changes(
        user=request.user, params=request.GET, seen=request.GET.get("v", "")
    )
    if changed is None:
        response = HttpResponse(status=204)
        response["ETag"] = f'"{data}"'
        return response
    response = render(
        request,
        "signing/board_changes.html",
        {"board": changed, "columns": changed.columns, "qs": changed.filters.querystring()},
    )
    response["ETag"] = f'"{changed.data}"'
    return response


@login_required
@require_GET
def board_column(request: HttpRequest, key: str) -> HttpResponse:
    """More cards of one column after a keyset cursor ("load more" / on scroll)."""
    if key not in selectors.COLUMN_STATUSES:
        raise Http404
    after = selectors.Cursor.decode(request.GET.get("after"))
    filters, cards, next_cursor = selectors.column_page(
        user=request.user, params=request.GET, key=key, after=after
    )
    context = {
        "column": {"key": key, "title": selectors.BOARD_TITLES[key], "next": next_cursor},
        "cards": cards,
        "qs": filters.querystring(),
        "filters": filters,
    }
    if _htmx(request):
        return render(request, "signing/board_column.html#more", context)
    return render(request, "signing/board_column.html", context)


# ---------------------------------------------------------------------------------------------
# Card actions


def _envelope_to_act_on(request: HttpRequest, envelope_id: int) -> Envelope:
    envelope = get_object_or_404(Envelope.objects.select_related("responsible"), pk=envelope_id)
    # Someone who may not see it gets a 404: no hint that the envelope exists.
    if not access.can_view_envelope(request.user, envelope):
        raise Http404
    if not access.can_act_on_envelope(request.user, envelope):
        raise PermissionDenied
    return envelope


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("signing:board")
    return redirect(target)


def _card_response(
    request: HttpRequest, envelope_id: int, *, notice: str = "", error: str = ""
) -> HttpResponse:
    return render(
        request,
        "signing/_card.html",
        {"card": selectors.card(envelope_id=envelope_id), "notice": notice, "error": error},
    )


def _card_outcome(
    request: HttpRequest, envelope_id: int, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """After a card action: the card again with its notice (htmx), else a flash and back."""
    if _htmx(request):
        return _card_response(request, envelope_id, notice=notice, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return _back(request)


@login_required
@require_GET
def card_detail(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _envelope_to_act_on(request, envelope_id)
    if not _htmx(request):
        return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    return _card_response(request, envelope.pk)


@login_required
@require_POST
def card_remind(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _envelope_to_act_on(request, envelope_id)
    try:
        message = services.envelope_remind(envelope=envelope, actor=_user(request))
    except services.SigningError as exc:
        return _card_outcome(request, envelope.pk, error=exc.message)
    notice = _("Reminder queued: %(channel)s to %(recipient)s.") % {
        "channel": message.get_channel_display(),
        "recipient": message.recipient,
    }
    return _card_outcome(request, envelope.pk, notice=notice)


@login_required
@require_POST
def card_cancel(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _envelope_to_act_on(request, envelope_id)
    try:
        services.envelope_cancel(
            envelope=envelope,
            actor=_user(request),
            reason=clean_text(request.POST.get("reason", ""), multiline=True),
        )
    except services.SigningError as exc:
        return _card_outcome(request, envelope.pk, error=exc.message)
    response = _card_outcome(request, envelope.pk, notice=_("The signature request was cancelled."))
    if _htmx(request):
        # The card now belongs to "Not signed": the poller refreshes the columns at once.
        response["HX-Trigger"] = "board-changed"
    return response


@login_required
@require_POST
def card_retry(request: HttpRequest, envelope_id: int, message_id: int) -> HttpResponse:
    """Retry a failed message from the card (the same service as the envelope page's Retry)."""
    envelope = _envelope_to_act_on(request, envelope_id)
    try:
        services.message_retry(envelope=envelope, message_id=message_id, actor=_user(request))
    except services.SigningError as exc:
        return _card_outcome(request, envelope.pk, error=exc.message)
    return _card_outcome(request, envelope.pk, notice=_("The message was queued again."))


@login_required
@require_GET
def card_link(request: HttpRequest, envelope_id: int) -> HttpResponse:
    """The link of the signer whose turn it is, for the sender to paste into a chat."""
    envelope = _envelope_to_act_on(request, envelope_id)
    party = (
        envelope.parties.filter(status=Party.Status.ACTIVE).order_by("order").first()
        if envelope.is_open
        else None
    )
    context = {
        "env": envelope,
        "party": party,
        "link": services.signing_link(party) if party is not None else "",
    }
    if _htmx(request):
        return render(request, "signing/board_link.html#link", context)
    return render(request, "signing/board_link.html", context)


# ---------------------------------------------------------------------------------------------
# List and CSV export


def _sort(request: HttpRequest) -> str:
    sort = request.GET.get("sort", "changed")
    return sort if sort in selectors.SORTS else "changed"


def _page(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        return 1


@login_required
@require_GET
def envelope_list(request: HttpRequest) -> HttpResponse:
    sort, page = _sort(request), _page(request)
    filters, rows, has_next = selectors.envelope_list(
        user=request.user, params=request.GET, sort=sort, page=page
    )
    context: dict[str, Any] = {
        "rows": rows,
        "filters": filters,
        "qs": filters.querystring(),
        "sort": sort,
        "page": page,
        "has_next": has_next,
        "is_manager": access.is_manager(request.user),
        "sort_links": {
            name: filters.querystring(sort=name if sort != name else f"-{name}".replace("--", ""))
            for name in ("title", "amount", "created", "changed", "deadline", "status")
        },
    }
    if _htmx_target(request) == "list":
        response = render(request, "signing/board_list.html#table", context)
        response["HX-Push-Url"] = _with_query(
            reverse("signing:envelope_list"), filters.querystring(sort=sort)
        )
        return response
    context.update(_filter_choices(request, filters))
    return render(request, "signing/board_list.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


# Translated at render time: the header row follows the user's language.
CSV_COLUMNS = {
    "public_id": gettext_lazy("Code"),
    "title": gettext_lazy("Title"),
    "status": gettext_lazy("Status"),
    "column": gettext_lazy("Stage"),
    "counterparty": gettext_lazy("Client"),
    "company": gettext_lazy("Our company"),
    "responsible": gettext_lazy("Responsible employee"),
    "amount": gettext_lazy("Amount"),
    "currency": gettext_lazy("Currency"),
    "created": gettext_lazy("Created"),
    "sent": gettext_lazy("Sent"),
    "changed": gettext_lazy("Stage changed"),
    "deadline": gettext_lazy("Deadline"),
    "completed": gettext_lazy("Completed"),
    "reason": gettext_lazy("Reason"),
}


# OWASP "CSV injection": a spreadsheet runs a cell starting with one of these as a formula
# (=HYPERLINK(...) in a client's name, a title or a decline reason written by outsiders).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def csv_cell(value: Any) -> str:
    """One cell of an export, safe to open in a spreadsheet: invisible characters removed and a
    leading quote before anything a spreadsheet would read as a formula. A plain number such as
    "-12.50" stays a number (it cannot be a formula), so amounts still add up."""
    text = clean_text("" if value is None else str(value), multiline=True)
    if PLAIN_NUMBER.fullmatch(text):
        return text
    if text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _csv_row(writer: Any, cells: Iterable[Any]) -> str:
    return str(writer.writerow([csv_cell(cell) for cell in cells]))


def _csv_lines(rows: Any, header: list[str]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # spreadsheet programs read UTF-8 only with the BOM
    yield _csv_row(writer, header)

    def when(value: Any) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    for env in rows:
        yield _csv_row(
            writer,
            [
                env.public_id,
                env.title,
                env.get_status_display(),
                selectors.BOARD_TITLES[selectors.COLUMN_OF_STATUS[env.status]],
                env.counterparty.legal_name if env.counterparty else "",
                env.company.legal_name if env.company else "",
                env.responsible.get_full_name() or env.responsible.get_username(),
                # Plain decimals: a spreadsheet must be able to add them up.
                f"{env.amount:.2f}" if env.amount is not None else "",
                env.currency,
                when(env.created_at),
                when(env.sent_at),
                when(env.status_changed_at),
                when(env.deadline),
                when(env.completed_at),
                env.closed_reason,
            ],
        )


@login_required
@require_GET
def envelope_export(request: HttpRequest) -> StreamingHttpResponse:
    rows = selectors.envelope_export_rows(
        user=request.user, params=request.GET, sort=_sort(request)
    )
    # The header is translated now: the rows are produced after the view has returned.
    header = [str(label) for label in CSV_COLUMNS.values()]
    response = StreamingHttpResponse(
        _csv_lines(rows, header), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="envelopes-{stamp}.csv"'
    return response


# ---------------------------------------------------------------------------------------------
# Oversight: managers only


def _require_manager(request: HttpRequest) -> None:
    if not access.is_manager(request.user):
        raise PermissionDenied


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    overview = selectors.team_overview()
    return render(
        request,
        "signing/manager.html",
        {
            "overview": overview,
            "chart": selectors.manager_chart(overview["weeks"]),
            "column_titles": [selectors.BOARD_TITLES[key] for key, _ in selectors.BOARD_COLUMNS],
            "column_keys": [key for key, _ in selectors.BOARD_COLUMNS],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_roles(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    if request.method == "POST":
        employee = get_object_or_404(
            Employee.objects.select_related("user"), pk=request.POST.get("employee")
        )
        try:
            employee = crm_services.employee_set_role(
                employee=employee, role=request.POST.get("role", ""), actor=_user(request)
            )
        except SignFlowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(name)s is now: %(role)s.")
                % {"name": employee, "role": employee.get_role_display()},
            )
        return redirect("signing:team_roles")
    employees = Employee.objects.select_related("user", "company").order_by(
        "user__last_name", "user__username"
    )
    return render(
        request,
        "signing/manager_roles.html",
        {"employees": employees, "roles": Employee.Role.choices},
    )
