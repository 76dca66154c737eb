"""Every write of bulk send: upload, mapping, sending row by row, whole-batch actions.

Each row goes out through the services the send screen uses (documents.services to build the
document, signing.services envelope_create/envelope_send), so a bulk envelope is an envelope
like any other: same checks, same audit trail, same messages.

A row is sent at most once: `row_send_next` takes the next waiting row with
`SELECT ... FOR UPDATE SKIP LOCKED` and keeps that lock while it creates and sends the row's
envelope, then writes the row's status in the same transaction. Two workers never take the same
row (the second skips it); a worker that dies mid-row rolls back (nothing was sent: messages
leave on commit) and the row is waiting again for the next runner.
"""

import datetime
import hashlib
import logging
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from bulk import mapping as mappings
from bulk.models import Batch, BatchEvent, BulkRow
from bulk.parsing import read_table
from crm.access import employee_of
from documents.contexts import company_context, crm_variables, sample_context
from documents.models import Document, DocumentTemplate
from documents.rendering import render_html
from documents.services import (
    document_copy,
    document_create_from_template,
    document_prefill,
    template_current_version,
)
from signflow.errors import Conflict, SignFlowError
from signing import services as signing
from signing.models import Envelope, Party

logger = logging.getLogger(__name__)

# Runner tasks queued per send: each takes rows until none is left, so as many workers as
# there are runners share a batch (more runners than workers only wait in the queue).
RUNNERS = 4
# A runner hands over to a fresh task after this long, well inside the task time limit
# (CELERY_TASK_SOFT_TIME_LIMIT) even when the last row is a slow render.
RUNNER_SECONDS = 120
PREVIEW_ROWS = 10
DEFAULT_OPTIONS: dict[str, Any] = {
    "deadline_days": 30,
    "reminder_every_days": 3,
    "reminder_max": 3,
    "note": "",
}


class BulkError(SignFlowError):
    default_code = "bulk_invalid"


# ---------------------------------------------------------------------------------------------
# Upload and mapping


def _fields_of(*, template: DocumentTemplate | None, document: Document | None) -> list[dict]:
    if document is not None:
        return [
            {"key": f.key, "kind": f.kind, "role": f.role, "label": f.label}
            for f in document.fields.order_by("page", "-y", "x")
        ]
    assert template is not None
    # The tags only: the template's HTML is rendered with the sample data, nothing is laid out.
    version = template_current_version(template=template)
    _html, collector = render_html(
        body=version.body,
        context=sample_context(language=template.language),
        language=template.language,
    )
    return [
        {"key": s.key, "kind": s.kind, "role": s.role, "label": s.label} for s in collector.fields
    ]


def _company_signer(user: User) -> dict[str, str]:
    employee = employee_of(user)
    company = employee.company if employee else None
    if company is None:
        return {"name": "", "email": "", "phone": "", "channel": Party.Channel.EMAIL}
    return {
        "name": company.director_name,
        "email": company.director_email,
        "phone": company.director_phone,
        "channel": Party.Channel.EMAIL if company.director_email else Party.Channel.SMS,
    }


def batch_create(
    *,
    actor: User,
    file_name: str,
    data: bytes,
    template: DocumentTemplate | None = None,
    document: Document | None = None,
) -> Batch:
    """Read the recipients file and store it as a draft batch, its columns mapped from their
    names and every row checked. Nothing is sent."""
    if (template is None) == (document is None):
        raise BulkError("no_source", _("Choose a template or a document."))
    if document is not None and not document.fields.exists():
        raise BulkError("no_fields", _("This document has no field: place its fields first."))
    table = read_table(name=file_name, data=data)
    fields = _fields_of(template=template, document=document)
    if not fields:
        raise BulkError("no_fields", _("The template places no field to sign."))
    if template is not None:
        title, language = template.name, template.language
    else:
        assert document is not None
        title, language = document.title, document.language
    variables = crm_variables() if template is not None else []
    employee = employee_of(actor)
    with transaction.atomic():
        batch = Batch.objects.create(
            title=title[:200],
            source=Batch.Source.TEMPLATE if template else Batch.Source.DOCUMENT,
            template=template,
            document=document,
            created_by=actor,
            company=employee.company if employee else None,
            file_name=file_name[:200],
            file_sha256=hashlib.sha256(data).hexdigest(),
            header=table.header,
            mapping=mappings.auto_mapping(header=table.header, variables=variables, fields=fields),
            fields=fields,
            options={
                **DEFAULT_OPTIONS,
                "language": language,
                "company": _company_signer(actor),
            },
        )
        _insert_checked_rows(batch, table.rows)
        BatchEvent.objects.create(
            batch=batch,
            type=BatchEvent.Type.CREATED,
            actor=actor,
            data={"file": batch.file_name, "sha256": batch.file_sha256, "rows": len(table.rows)},
        )
    return batch


def _insert_checked_rows(batch: Batch, table_rows: list[tuple[int, list[str]]]) -> None:
    """Rows are checked before they are written: one INSERT per thousand rows, no UPDATE
    after it."""
    spec = spec_for(batch)
    problems = mapping_problems(batch)
    rows = []
    for line, cells in table_rows:
        status, error = _verdict(spec, problems, cells)
        rows.append(BulkRow(batch=batch, line=line, cells=cells, status=status, error=error))
    BulkRow.objects.bulk_create(rows, batch_size=1000)
    batch.checked = not problems
    batch.save(update_fields=["checked"])


def spec_for(batch: Batch) -> mappings.Spec:
    return mappings.Spec(
        mapping={int(index): target for index, target in batch.mapping.items()},
        variables=crm_variables() if batch.source == Batch.Source.TEMPLATE else [],
        fields=batch.fields,
        default_language=batch.options.get("language", "fr"),
    )


def allowed_targets(batch: Batch) -> set[str]:
    spec = spec_for(batch)
    return {
        key for key, _label in mappings.target_choices(variables=spec.variables, fields=spec.fields)
    } - {""}


def mapping_problems(batch: Batch) -> list[str]:
    spec = spec_for(batch)
    return mappings.mapping_errors(spec.mapping, allowed=allowed_targets(batch))


def needs_company_signer(batch: Batch) -> bool:
    return any(spec["role"] == Party.Role.COMPANY for spec in batch.fields)


def _verdict(spec: mappings.Spec, problems: list[str], cells: list[str]) -> tuple[str, str]:
    """A row's status and reasons under the batch's mapping."""
    if problems:
        return BulkRow.Status.PENDING, ""  # the mapping is what to fix; rows are judged after
    _data, errors = mappings.read_row(spec, cells)
    if errors:
        return BulkRow.Status.INVALID, " ".join(errors)[:2000]
    return BulkRow.Status.PENDING, ""


def _check_rows(batch: Batch) -> None:
    """Every row not sent yet: waiting if it reads fine, invalid with its reasons otherwise.
    Only the rows whose verdict changed are written."""
    spec = spec_for(batch)
    problems = mapping_problems(batch)
    changed = []
    rows = batch.rows.filter(status__in=[BulkRow.Status.PENDING, BulkRow.Status.INVALID])
    for row in rows.only("pk", "cells", "status", "error").iterator(chunk_size=1000):
        status, error = _verdict(spec, problems, row.cells)
        if (status, error) != (row.status, row.error):
            row.status, row.error = status, error
            changed.append(row)
    BulkRow.objects.bulk_update(changed, ["status", "error"], batch_size=500)
    batch.checked = not problems
    batch.save(update_fields=["checked"])


def batch_configure(
    *,
    batch: Batch,
    actor: User,
    mapping: dict[str, str],
    options: dict[str, Any],
) -> Batch:
    """Save the columns' meaning and the send options, and check every row again; the batch's
    audit records who did it, with the mapping and the options given (`configured`)."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != Batch.Status.DRAFT:
            raise Conflict("already_sent", _("This batch has already been sent."))
        width = len(batch.header)
        batch.mapping = {
            str(index): target
            for index, target in mapping.items()
            if target and index.isdigit() and int(index) < width
        }
        batch.options = {**batch.options, **options}
        batch.save(update_fields=["mapping", "options"])
        _check_rows(batch)
        BatchEvent.objects.create(
            batch=batch,
            type=BatchEvent.Type.CONFIGURED,
            actor=actor,
            data={"mapping": batch.mapping, "options": options, "checked": batch.checked},
        )
    return batch


def _company_party(batch: Batch) -> signing.PartyInput | None:
    if not needs_company_signer(batch):
        return None
    data = batch.options.get("company") or {}
    return signing.PartyInput(
        role=Party.Role.COMPANY,
        name=data.get("name", ""),
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        channel=data.get("channel", Party.Channel.EMAIL),
        is_company=True,
    )


def company_signer_errors(batch: Batch) -> dict[str, str]:
    party = _company_party(batch)
    return signing.validate_party_input(party) if party is not None else {}


# ---------------------------------------------------------------------------------------------
# Sending


def batch_send(*, batch: Batch, actor: User) -> Batch:
    """Start sending (or resume a batch whose runners were lost): the work is queued on commit;
    this returns at once whatever the number of rows."""
    from bulk.tasks import queue_runners

    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == Batch.Status.DONE:
            raise Conflict("already_sent", _("This batch has already been sent."))
        if batch.status == Batch.Status.DRAFT:
            problems = mapping_problems(batch)
            if problems:
                raise BulkError("mapping_incomplete", " ".join(problems))
            if company_signer_errors(batch):
                raise BulkError("company_signer", _("Check the name and contact of our signer."))
            ready = batch.rows.filter(status=BulkRow.Status.PENDING).count()
            if not ready:
                raise BulkError("no_valid_row", _("No row can be sent: fix the file first."))
            batch.status = Batch.Status.SENDING
            batch.started_at = timezone.now()
            batch.save(update_fields=["status", "started_at"])
            BatchEvent.objects.create(
                batch=batch,
                type=BatchEvent.Type.SENT,
                actor=actor,
                data={
                    "rows": ready,
                    "invalid": batch.rows.filter(status=BulkRow.Status.INVALID).count(),
                },
            )
        transaction.on_commit(lambda: queue_runners(batch.pk, RUNNERS))
    return batch


def _deadline(batch: Batch) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=int(batch.options.get("deadline_days", 30)))


def _send_row(batch: Batch, row: BulkRow) -> Envelope:
    """The row's document, envelope and invitation, through the send screen's services."""
    data, errors = mappings.read_row(spec_for(batch), row.cells)
    if errors:
        raise BulkError("invalid_row", " ".join(errors))
    title = f"{batch.title} — {data.party.name}"[:200]
    creator = batch.created_by
    if batch.template is not None:
        base = {"company": company_context(batch.company)} if batch.company else {}
        document = document_create_from_template(
            template=batch.template,
            context=mappings.template_context(base, data),
            title=title,
            creator=creator,
            language=data.language,
        )
        if data.prefilled:
            document_prefill(document=document, values=data.prefilled)
    else:
        assert batch.document is not None
        document = document_copy(
            document=batch.document, creator=creator, title=title, prefilled=data.prefilled
        )
    envelope = signing.envelope_create(
        document=document, responsible=creator, language=data.language
    )
    company = _company_party(batch)
    parties = [company, data.party] if company is not None else [data.party]
    return signing.envelope_send(
        envelope=envelope,
        actor=creator,
        parties=parties,
        language=data.language,
        deadline=_deadline(batch),
        reminder_every_days=int(batch.options.get("reminder_every_days", 0)),
        reminder_max=int(batch.options.get("reminder_max", 3)),
        note=str(batch.options.get("note", "")),
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, signing.SendValidationError):
        parts = []
        for value in exc.errors.values():
            parts += list(value.values()) if isinstance(value, dict) else [str(value)]
        return " ".join(str(p) for p in parts) or exc.message
    if isinstance(exc, SignFlowError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return _("Unexpected error while sending this row; it was not sent.")


def row_send_next(*, batch_id: int) -> int | None:
    """Send the next waiting row of the batch; its line number, or None when none is left."""
    with transaction.atomic():
        # SKIP LOCKED: a row another worker holds is being sent; take the next one instead.
        row = (
            BulkRow.objects.select_for_update(skip_locked=True)
            .filter(batch_id=batch_id, status=BulkRow.Status.PENDING)
            .order_by("line")
            .first()
        )
        if row is None:
            return None
        batch = Batch.objects.select_related("template", "document", "created_by", "company").get(
            pk=batch_id
        )
        if batch.status != Batch.Status.SENDING:
            return None
        try:
            with transaction.atomic():  # a failed row leaves nothing of its own behind
                envelope = _send_row(batch, row)
        except SoftTimeLimitExceeded:
            raise  # the runner's time is up: the row rolls back and waits for the next one
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the batch
            if not isinstance(exc, SignFlowError | ValidationError):
                logger.exception("Bulk batch %s line %s failed", batch_id, row.line)
            row.status = BulkRow.Status.FAILED
            row.error = _reason(exc)[:2000]
        else:
            row.status = BulkRow.Status.SENT
            row.envelope = envelope
            row.error = ""
        row.done_at = timezone.now()
        row.save(update_fields=["status", "error", "envelope", "done_at"])
        return row.line


def batch_work(*, batch_id: int, budget_seconds: float | None = None) -> tuple[int, bool]:
    """What one runner does: send rows until none is waiting (then close the batch if done) or
    until `budget_seconds` have passed. Returns the rows it handled and whether rows remain
    for another runner (the task queues one: a task stays well inside its time limit)."""
    handled = 0
    started = time.monotonic()
    while row_send_next(batch_id=batch_id) is not None:
        handled += 1
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            return handled, True
    _finish_if_done(batch_id)
    return handled, False


def _finish_if_done(batch_id: int) -> None:
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch_id)
        if batch.status != Batch.Status.SENDING:
            return
        # A row another runner is sending still reads as waiting until it commits: that runner
        # closes the batch after it.
        if batch.rows.filter(status=BulkRow.Status.PENDING).exists():
            return
        batch.status = Batch.Status.DONE
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "finished_at"])
        BatchEvent.objects.create(batch=batch, type=BatchEvent.Type.FINISHED, data=counts(batch))


def counts(batch: Batch) -> dict[str, int]:
    result = dict.fromkeys(BulkRow.Status.values, 0)
    for item in batch.rows.values("status").annotate(n=Count("id")):
        result[item["status"]] = item["n"]
    result["total"] = sum(result[s] for s in BulkRow.Status.values)
    return result


# ---------------------------------------------------------------------------------------------
# Whole-batch actions


def batch_request(*, batch: Batch, actor: User, action: str, reason: str = "") -> BatchEvent:
    """Record a cancel or remind of the whole batch; the envelopes are handled in the
    background (bulk.tasks), each through signing's own service and audit."""
    from bulk.tasks import queue_action

    if action == BatchEvent.Type.CANCEL:
        reason = reason.strip()
        if not reason:
            raise BulkError("reason_required", _("Give a reason for cancelling."))
    elif action != BatchEvent.Type.REMIND:
        raise ValueError(action)
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == Batch.Status.DRAFT:
            raise Conflict("not_sent", _("This batch has not been sent yet."))
        event = BatchEvent.objects.create(
            batch=batch, type=action, actor=actor, data={"reason": reason[:2000], "finished": False}
        )
        transaction.on_commit(lambda: queue_action(event.pk))
    return event


def batch_action_run(
    *, event_id: int, budget_seconds: float | None = None
) -> tuple[dict[str, int], bool]:
    """Cancel or remind every envelope of the batch, in envelope order from the cursor saved on
    the event; the outcome is written there. Returns it and whether envelopes remain (after
    `budget_seconds`, for a fresh task). Run again (a retried task), it goes on from the
    cursor, and what was already cancelled or just reminded is skipped by signing's rules."""
    event = BatchEvent.objects.select_related("actor").get(pk=event_id)
    data = dict(event.data)
    if data.get("finished"):
        return {"done": data.get("done", 0), "skipped": data.get("skipped", 0)}, False
    outcome = {"done": data.get("done", 0), "skipped": data.get("skipped", 0)}
    cursor = data.get("cursor", 0)
    started = time.monotonic()
    envelopes = Envelope.objects.filter(bulk_row__batch_id=event.batch_id, pk__gt=cursor)
    more = False
    for envelope in envelopes.order_by("pk").iterator(chunk_size=200):
        try:
            if event.type == BatchEvent.Type.CANCEL:
                signing.envelope_cancel(
                    envelope=envelope, actor=event.actor, reason=data.get("reason", "")
                )
            else:
                signing.envelope_remind(envelope=envelope, actor=event.actor)
        except signing.SigningError:
            outcome["skipped"] += 1  # signed, already closed, reminded within the hour...
        else:
            outcome["done"] += 1
        cursor = envelope.pk
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            more = True
            break
    event.data = {**data, **outcome, "cursor": cursor, "finished": not more}
    event.save(update_fields=["data"])
    return outcome, more
