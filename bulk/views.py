"""Bulk send pages: upload, mapping with preview, progress, failed rows, whole-batch actions."""

import csv
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bulk import access, services
from bulk.forms import MappingForm, NewBatchForm
from bulk.mapping import read_row, target_choices
from bulk.models import Batch, BatchEvent, BulkRow
from bulk.parsing import check_size
from documents.models import DocumentTemplate
from signflow.errors import SignFlowError
from signflow.flash import flash_outcome
from signflow.http import AuthenticatedHttpRequest
from signing.board import csv_cell
from signing.forms import PartyForm, ReasonForm, SendOptionsForm


def _employee_only(request: AuthenticatedHttpRequest) -> None:
    if not access.can_use_bulk(request.user):
        raise Http404


def _batch_for(request: AuthenticatedHttpRequest, batch_id: int) -> Batch:
    batch = get_object_or_404(
        Batch.objects.select_related("template", "document", "created_by"), pk=batch_id
    )
    # Someone else's batch looks like a missing one.
    if not access.can_act_on_batch(request.user, batch):
        raise Http404
    return batch


@login_required
@require_GET
def batch_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    _employee_only(request)
    batches = access.batches_visible_to(request.user).select_related("created_by").order_by("-id")
    rows = [(batch, services.counts(batch)) for batch in batches[:100]]
    return render(request, "bulk/batch_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def batch_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    _employee_only(request)
    user = request.user
    form = NewBatchForm(request.POST or None, request.FILES or None, user=user)
    source = request.POST.get("source", "")
    if source and source not in form.sources:
        raise Http404  # someone else's template or document looks like a missing one
    if request.method == "POST" and form.is_valid():
        source = form.cleaned_data["source"]
        upload = form.cleaned_data["file"]
        try:
            check_size(upload.size or 0)  # before reading a byte of it
            batch = services.batch_create(
                actor=user,
                file_name=upload.name or "recipients.csv",
                data=upload.read(),
                template=source if isinstance(source, DocumentTemplate) else None,
                document=None if isinstance(source, DocumentTemplate) else source,
            )
        except SignFlowError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("bulk:batch_detail", batch_id=batch.pk)
    return render(
        request,
        "bulk/batch_new.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def _options_forms(
    batch: Batch, data: Any = None
) -> tuple[MappingForm, SendOptionsForm, PartyForm | None]:
    spec = services.spec_for(batch)
    choices = target_choices(variables=spec.variables, fields=spec.fields)
    initial_mapping = {f"col-{index}": target for index, target in batch.mapping.items()}
    mapping_form = MappingForm(data, header=batch.header, choices=choices, initial=initial_mapping)
    options = batch.options
    options_form = SendOptionsForm(
        data,
        initial={
            "language": options.get("language", "fr"),
            "deadline_days": options.get("deadline_days", 30),
            "reminder_every_days": options.get("reminder_every_days", 3),
            "reminder_max": options.get("reminder_max", 3),
            "note": options.get("note", ""),
        },
    )
    company_form = (
        PartyForm(data, prefix="company", initial=options.get("company") or {})
        if services.needs_company_signer(batch)
        else None
    )
    return mapping_form, options_form, company_form


def _preview(batch: Batch) -> list[dict[str, Any]]:
    spec = services.spec_for(batch)
    rows = []
    for row in batch.rows.order_by("line")[: services.PREVIEW_ROWS]:
        data, errors = read_row(spec, row.cells)
        rows.append({"row": row, "data": data, "errors": errors})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def batch_detail(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """A draft: the mapping screen (POST saves it and checks every row). Sent: the progress."""
    batch = _batch_for(request, batch_id)
    status = 200
    if batch.status != Batch.Status.DRAFT:
        if request.method == "POST":
            return redirect("bulk:batch_detail", batch_id=batch.pk)
        return render(request, "bulk/batch_sent.html", _sent_context(batch))
    mapping_form, options_form, company_form = _options_forms(
        batch, request.POST if request.method == "POST" else None
    )
    if request.method == "POST":
        forms_ok = mapping_form.is_valid() and options_form.is_valid()
        forms_ok = (company_form is None or company_form.is_valid()) and forms_ok
        if forms_ok:
            options = {
                key: options_form.cleaned_data[key]
                for key in (
                    "language",
                    "deadline_days",
                    "reminder_every_days",
                    "reminder_max",
                    "note",
                )
            }
            if company_form is not None:
                options["company"] = {
                    key: company_form.cleaned_data[key]
                    for key in ("name", "email", "phone", "channel")
                }
            batch = services.batch_configure(
                batch=batch, actor=request.user, mapping=mapping_form.mapping(), options=options
            )
            messages.success(request, _("Mapping saved and every row checked."))
            return redirect("bulk:batch_detail", batch_id=batch.pk)
        status = 400
    counts = services.counts(batch)
    company_errors = services.company_signer_errors(batch)
    return render(
        request,
        "bulk/batch_detail.html",
        {
            "batch": batch,
            "mapping_form": mapping_form,
            "options_form": options_form,
            "company_form": company_form,
            "company_errors": company_errors,
            "problems": services.mapping_problems(batch),
            "preview": _preview(batch),
            "counts": counts,
            "invalid_rows": batch.rows.filter(status=BulkRow.Status.INVALID).order_by("line")[:50],
        },
        status=status,
    )


def _sent_context(batch: Batch) -> dict[str, Any]:
    counts = services.counts(batch)
    done = counts["sent"] + counts["failed"]
    todo = done + counts["pending"]
    return {
        "batch": batch,
        "counts": counts,
        "done": done,
        "todo": todo,
        "percent": int(done * 100 / todo) if todo else 100,
        "failed_rows": batch.rows.filter(
            status__in=[BulkRow.Status.FAILED, BulkRow.Status.INVALID]
        ).order_by("line")[:50],
        "actions": batch.events.filter(type__in=[BatchEvent.Type.CANCEL, BatchEvent.Type.REMIND])
        .select_related("actor")
        .order_by("-id")[:10],
        "reason_form": ReasonForm(),
        "board_url": f"{reverse('signing:board')}?batch={batch.pk}",
    }


@login_required
@require_GET
def batch_progress(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """Polled by the progress bar (htmx) while the batch is sending."""
    batch = _batch_for(request, batch_id)
    return render(request, "bulk/batch_sent.html#progress", _sent_context(batch))


@login_required
@require_POST
def batch_send(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch_for(request, batch_id)
    flash_outcome(
        request,
        lambda: services.batch_send(batch=batch, actor=request.user),
        _("Sending started: the envelopes are created in the background."),
    )
    return redirect("bulk:batch_detail", batch_id=batch.pk)


@login_required
@require_POST
def batch_cancel(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch_for(request, batch_id)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    flash_outcome(
        request,
        lambda: services.batch_request(
            batch=batch, actor=request.user, action=BatchEvent.Type.CANCEL, reason=reason
        ),
        _("Every envelope of the batch is being cancelled."),
    )
    return redirect("bulk:batch_detail", batch_id=batch.pk)


@login_required
@require_POST
def batch_remind(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch_for(request, batch_id)
    flash_outcome(
        request,
        lambda: services.batch_request(
            batch=batch, actor=request.user, action=BatchEvent.Type.REMIND
        ),
        _("A reminder is being sent for every open envelope."),
    )
    return redirect("bulk:batch_detail", batch_id=batch.pk)


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def batch_failed_csv(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """The rows not sent (invalid or failed): the file's own columns, then the line number and
    the reason, to fix and upload again. Cells are escaped against formula injection."""
    batch = _batch_for(request, batch_id)
    rows = batch.rows.filter(status__in=[BulkRow.Status.INVALID, BulkRow.Status.FAILED]).order_by(
        "line"
    )
    writer = csv.writer(_Echo())
    width = len(batch.header)
    lines = [
        "\ufeff",
        writer.writerow([csv_cell(c) for c in [*batch.header, _("Line"), _("Reason")]]),
    ]
    for row in rows.iterator(chunk_size=1000):
        cells = (row.cells + [""] * width)[:width]
        lines.append(writer.writerow([csv_cell(c) for c in [*cells, row.line, row.error]]))
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-not-sent.csv"'
    return response
