"""The outbox: messages are written with the state change and sent after commit.

`message_queue` renders a message in the envelope's language and stores it in the caller's
transaction; `transaction.on_commit` hands its id to the `deliver_message` task. If the broker
is down the row stays `queued` and the periodic sweep sends it later: an outage delays a
message, it never loses one.
"""

import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from email import charset as Charset
from email.header import Header
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, Q, Subquery, When
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape, linebreaks
from django.utils.safestring import mark_safe

from signflow.celery import BATCH_QUEUE, MESSAGES_QUEUE, delivery_queue
from signflow.text import clean_value
from signing import audit
from signing.downloads import sealed_filename
from signing.models import Envelope, Event, Message, Party
from signing.sms import SMSBackend, get_sms_backend

logger = logging.getLogger(__name__)
_CODE_RE = re.compile(r"\b\d{6}\b")

_BUTTONS = {
    Message.Template.INVITATION: "link",
    Message.Template.REMINDER: "link",
    Message.Template.COMPLETED: "download_link",
}


def _button_label(template: str) -> str:
    from django.utils.translation import gettext

    if template == Message.Template.COMPLETED:
        return gettext("Download the signed PDF")
    return gettext("Open and sign")


def _link_our_urls(text: str) -> str:
    """Escape the text and make only SignFlow's own URLs clickable.

    A sender's note or a signer's decline reason may contain any URL: in an email that carries
    our name it stays plain text, so it cannot pass for one of our links.
    """
    ours = re.escape(escape(settings.SIGNFLOW_BASE_URL))
    return re.sub(
        rf"{ours}/[^\s<>\"']*", lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escape(text)
    )


def render_message(
    *, template: str, channel: str, language: str, context: dict[str, Any]
) -> dict[str, str]:
    base = f"signing/messages/{template}"
    # Names, titles and reasons stored before text was cleaned at entry must not spoof a message.
    context = clean_value(context)
    with translation.override(language):
        if channel == Party.Channel.SMS:
            return {
                "subject": "",
                "body": render_to_string(f"{base}.sms.txt", context).strip(),
                "html": "",
            }
        subject = " ".join(render_to_string(f"{base}.subject.txt", context).split())
        body = render_to_string(f"{base}.txt", context).strip()
        button_key = _BUTTONS.get(template)  # type: ignore[call-overload]
        html = render_to_string(
            "signing/messages/email.html",
            {
                "language": language,
                # Escaped by _link_our_urls; only our own <a> and linebreaks' <p>/<br> are markup.
                "body_html": mark_safe(linebreaks(_link_our_urls(body), autoescape=False)),  # noqa: S308
                "button_link": context.get(button_key) if button_key else None,
                "button_label": _button_label(template),
            },
        )
    return {"subject": subject, "body": body, "html": html}


def message_queue(
    *,
    envelope: Envelope,
    template: str,
    channel: str,
    recipient: str,
    context: dict[str, Any],
    party: Party | None = None,
    attach_sealed: bool = False,
) -> Message:
    """Write one message in the current transaction and send it once the transaction commits."""
    rendered = render_message(
        template=template, channel=channel, language=envelope.language, context=context
    )
    message = Message.objects.create(
        envelope=envelope,
        party=party,
        channel=channel,
        recipient=recipient,
        template=template,
        subject=rendered["subject"][:300],
        body=rendered["body"],
        html_body=rendered["html"],
        attach_sealed=attach_sealed,
        queue=delivery_queue(),
    )
    audit.event_append(
        envelope=envelope,
        party=party,
        type=Event.Type.MESSAGE_QUEUED,
        data={"message": message.pk, "template": template, "channel": channel},
    )
    transaction.on_commit(lambda: dispatch(message.pk))
    return message


def dispatch(message_id: int, queue: str | None = None) -> None:
    """Hand a message to the worker (on `queue`, else as routed); a broker outage leaves it
    for the sweep."""
    from signing.tasks import deliver_message

    try:
        if queue:
            deliver_message.apply_async(args=(message_id,), retry=False, queue=queue)
        else:
            deliver_message.apply_async(args=(message_id,), retry=False)
    except Exception:  # noqa: BLE001 - any broker error: the sweep sends it later
        logger.warning(
            "Broker unavailable, message %s left for the sweep", message_id, exc_info=True
        )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


# Up to this many due messages of one queue go out in one delivery, over one mail connection.
BATCH_SIZE = 50
# A batch stops sending after this many seconds and gives the rest back to the queue: with a
# slow provider (EMAIL_TIMEOUT 30 s a message) it ends well within deliver_message's time
# limit (90 s soft) instead of leaving its last messages claimed for the stale-claim window.
BATCH_SECONDS = 20.0
# Ids this worker process sent (or failed) as part of another message's batch, whose own task
# may still be in the queue: that task is done without touching the database. Bounded.
_HANDLED: OrderedDict[int, None] = OrderedDict()
_HANDLED_MAX = 10_000


@dataclass
class _Outcome:
    """What one attempt gave: a provider id when sent, the error when not."""

    message: Message
    provider_id: str = ""
    error: Exception | None = None


def deliver(*, message_id: int) -> str:
    """Send one queued message, with the other due messages of its queue. Returns its status.

    The claim is one UPDATE … RETURNING on status=queued over rows locked with SKIP LOCKED:
    when the on-commit task and the sweep (or two workers) race for one message, only one of
    them gets the row and sends it.
    """
    if message_id in _HANDLED:
        del _HANDLED[message_id]
        return "skipped"  # this process already sent it, in an earlier message's batch
    outcomes = _deliver_batch(_claim(first_id=message_id, now=timezone.now()))
    status = "skipped"
    for outcome in outcomes:
        if outcome.message.pk == message_id:
            status = outcome.message.status
        else:
            _remember(outcome.message.pk)
    return status


def _remember(message_id: int) -> None:
    _HANDLED[message_id] = None
    while len(_HANDLED) > _HANDLED_MAX:
        _HANDLED.popitem(last=False)


def _claim(*, now: Any, first_id: int | None = None, queue: str = "") -> list[Message]:
    """Claim up to BATCH_SIZE due messages (`first_id` first, then the others of its queue) in
    one statement, and return them as they are now (status `sending`, attempts counted)."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    order: list[Any] = ["id"]
    of_queue: Any = queue
    if first_id is not None:
        of_queue = Subquery(Message.objects.filter(pk=first_id).values("queue")[:1])
        due |= Q(pk=first_id)
        order.insert(0, Case(When(pk=first_id, then=0), default=1))
    ids = (
        Message.objects.filter(due, status=Message.Status.QUEUED, queue=of_queue)
        .order_by(*order)
        .values("id")[:BATCH_SIZE]
    )
    ids_sql, ids_params = ids.query.sql_with_params()
    if db_connection.features.has_select_for_update_skip_locked:
        # Rows another worker is claiming right now are skipped, not waited for.
        ids_sql += " FOR UPDATE SKIP LOCKED"
    sql = (
        f"UPDATE {Message._meta.db_table} SET status = %s, attempts = attempts + 1, "  # noqa: S608
        f"claimed_at = %s WHERE id IN ({ids_sql}) RETURNING *"
    )
    when = db_connection.ops.adapt_datetimefield_value(now)
    claimed = list(Message.objects.raw(sql, [Message.Status.SENDING, when, *ids_params]))
    claimed.sort(key=lambda m: (m.pk != first_id, m.pk))
    return claimed


def _deliver_batch(messages: list[Message]) -> list[_Outcome]:
    """Send the claimed messages over one mail connection, then record every outcome in one
    transaction. A message that fails does not stop the others."""
    if not messages:
        return []
    outcomes = _send_all(messages)
    _release(messages[len(outcomes) :])
    _record(outcomes)
    return outcomes


def _release(messages: list[Message]) -> None:
    """Give claimed messages that were not tried back to the queue, as if never claimed."""
    if not messages:
        return
    Message.objects.filter(pk__in=[m.pk for m in messages], status=Message.Status.SENDING).update(
        status=Message.Status.QUEUED, attempts=F("attempts") - 1, claimed_at=None
    )
    for message in messages:
        dispatch(message.pk, queue=message.queue)


def _send_all(messages: list[Message]) -> list[_Outcome]:
    mail = get_connection()
    sms: SMSBackend | None = None
    outcomes: list[_Outcome] = []
    started = time.monotonic()
    try:
        for message in messages:
            if outcomes and time.monotonic() - started > BATCH_SECONDS:
                break  # the rest goes back to the queue (_release)
            try:
                if message.channel == Party.Channel.SMS:
                    sms = sms or get_sms_backend()
                    provider_id = sms.send(to=message.recipient, body=message.body)
                else:
                    provider_id = _send_email(message, mail)
                outcomes.append(_Outcome(message, provider_id=provider_id))
            except Exception as exc:  # noqa: BLE001 - a provider failure of any kind is retried
                logger.warning(
                    "Message %s attempt %s failed: %s", message.pk, message.attempts, exc
                )
                outcomes.append(_Outcome(message, error=exc))
                _close(mail)  # a broken connection is not reused; the next send opens another
    finally:
        _close(mail)
    return outcomes


def _close(mail: Any) -> None:
    try:
        mail.close()
    except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to save
        logger.info("Closing the mail connection failed", exc_info=True)


_UTF8_B = Charset.Charset("utf-8")
_UTF8_B.header_encoding = Charset.BASE64


class _Email(EmailMultiAlternatives):
    """Django's email, its non-ASCII subject B-encoded (RFC 2047) at once.

    For UTF-8 the standard library measures the Q and the B encoding character by character to
    pick the shorter: a quarter of the CPU of building one delivery (bench_messages.py). Only
    the MIME message changes; `subject` stays the text (anymail and the test outbox read it)."""

    def message(self, **kwargs: Any) -> Any:
        subject = str(self.subject)
        if subject.isascii():
            return super().message(**kwargs)
        self.subject = ""
        try:
            mime = super().message(**kwargs)
        finally:
            self.subject = subject
        del mime["Subject"]
        mime["Subject"] = Header(subject, _UTF8_B).encode(linesep=" ")
        return mime


def _send_email(message: Message, mail: Any) -> str:
    email = _Email(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
        connection=mail,
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    if message.attach_sealed:
        envelope = Envelope.objects.select_related("sealed").get(pk=message.envelope_id)
        if envelope.sealed is not None:
            with envelope.sealed.file.open("rb") as fh:
                email.attach(sealed_filename(envelope), fh.read(), "application/pdf")
    mail.open()  # once per batch: a no-op while the connection is open
    mail.send_messages([email])
    anymail_status = getattr(email, "anymail_status", None)
    return str(getattr(anymail_status, "message_id", "") or "")


def _record(outcomes: list[_Outcome]) -> None:
    """Mark each message sent, or queued again with its backoff, or failed for good, and append
    its audit event, in one transaction with the envelopes locked."""
    now = timezone.now()
    scrub = not settings.SIGNFLOW_DEV_OUTBOX
    events: list[audit.NewEvent] = []
    for outcome in outcomes:
        message = outcome.message
        data: dict[str, Any] = {"message": message.pk}
        if outcome.error is None:
            _mark_sent(message, outcome.provider_id, now, scrub=scrub)
            data.update(template=message.template, channel=message.channel)
            event_type = Event.Type.MESSAGE_SENT
        else:
            data.update(_mark_failed(message, outcome.error, now))
            event_type = Event.Type.MESSAGE_FAILED
        events.append(audit.NewEvent(message.envelope_id, event_type, message.party_id, data))
    sent = [o.message for o in outcomes if o.error is None]
    with transaction.atomic():
        _save_sent(sent, now)
        for message in [o.message for o in outcomes if o.error is not None]:
            Message.objects.filter(pk=message.pk).update(
                status=message.status,
                last_error=message.last_error,
                next_attempt_at=message.next_attempt_at,
            )
        for message in [m for m in sent if scrub and m.template == Message.Template.CODE]:
            Message.objects.filter(pk=message.pk).update(
                subject=message.subject, body=message.body, html_body=""
            )
        audit.events_append(events)


def _save_sent(sent: list[Message], now: Any) -> None:
    """One UPDATE for every sent message: status and time alike, provider ids by CASE.

    (Written out: bulk_update's CASE expressions cost more CPU than the sending itself.)"""
    if not sent:
        return
    named = [m for m in sent if m.provider_id]
    params: list[Any] = [Message.Status.SENT, db_connection.ops.adapt_datetimefield_value(now)]
    provider = ""
    if named:
        provider = ", provider_id = CASE id " + "WHEN %s THEN %s " * len(named)
        provider += "ELSE provider_id END"
        params += [value for m in named for value in (m.pk, m.provider_id)]
    params += [m.pk for m in sent]
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET status = %s, sent_at = %s, "  # noqa: S608
            f"last_error = ''{provider} WHERE id IN ({', '.join(['%s'] * len(sent))})",
            params,
        )


def _mark_sent(message: Message, provider_id: str, now: Any, *, scrub: bool) -> None:
    message.status = Message.Status.SENT
    message.sent_at = now
    message.provider_id = provider_id
    message.last_error = ""
    if scrub and message.template == Message.Template.CODE:
        # Once delivered, the code has no business in the database.
        message.body = _CODE_RE.sub("******", message.body)
        message.subject = _CODE_RE.sub("******", message.subject)
        message.html_body = ""


def _mark_failed(message: Message, exc: Exception, now: Any) -> dict[str, Any]:
    final = message.attempts >= settings.SIGNFLOW_MESSAGE_MAX_ATTEMPTS
    message.status = Message.Status.FAILED if final else Message.Status.QUEUED
    message.last_error = str(exc)[:1000] or exc.__class__.__name__
    message.next_attempt_at = None if final else now + backoff(message.attempts)
    return {"attempt": message.attempts, "error": str(exc)[:300], "final": final}


def sweep(*, limit: int = 200) -> int:
    """Send what is still queued and due (after a broker outage or a failed attempt), in
    batches per queue, `messages` first. Returns how many were sent."""
    now = timezone.now()
    stuck_before = now - timedelta(minutes=10)
    # A worker that died mid-send leaves a row in `sending`: give it back to the queue.
    Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=stuck_before).update(
        status=Message.Status.QUEUED
    )
    sent = tried = 0
    for queue in (MESSAGES_QUEUE, BATCH_QUEUE):
        while tried < limit:
            outcomes = _deliver_batch(_claim(now=now, queue=queue))
            if not outcomes:
                break
            tried += len(outcomes)
            sent += sum(o.message.status == Message.Status.SENT for o in outcomes)
    return sent
