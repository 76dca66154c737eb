"""The outbox: messages are written with the state change and sent after commit.

`message_queue` renders a message in the envelope's language and stores it in the caller's
transaction; `transaction.on_commit` hands its id to the `deliver_message` task. If the broker
is down the row stays `queued` and the periodic sweep sends it later: an outage delays a
message, it never loses one.
"""

import logging
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape, linebreaks
from django.utils.safestring import mark_safe

from signflow.text import clean_value
from signing import audit
from signing.downloads import sealed_filename
from signing.models import Envelope, Event, Message, Party
from signing.sms import get_sms_backend

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
    )
    audit.event_append(
        envelope=envelope,
        party=party,
        type=Event.Type.MESSAGE_QUEUED,
        data={"message": message.pk, "template": template, "channel": channel},
    )
    transaction.on_commit(lambda: dispatch(message.pk))
    return message


def dispatch(message_id: int) -> None:
    """Hand a message to the worker; a broker outage leaves it for the sweep."""
    from signing.tasks import deliver_message

    try:
        deliver_message.apply_async(args=(message_id,), retry=False)
    except Exception:  # noqa: BLE001 - any broker error: the sweep sends it later
        logger.warning(
            "Broker unavailable, message %s left for the sweep", message_id, exc_info=True
        )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def deliver(*, message_id: int) -> str:
    """Send one queued message. Returns its final status for this attempt.

    The claim is an UPDATE on status=queued: when the on-commit task and the sweep (or two
    workers) race for one message, only one of them gets the row and sends it.
    """
    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
        status=Message.Status.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if not claimed:
        return "skipped"
    message = Message.objects.select_related("envelope", "party").get(pk=message_id)
    try:
        provider_id = _send(message)
    except Exception as exc:  # noqa: BLE001 - a provider failure of any kind is retried
        return _record_failure(message, exc, now)
    with transaction.atomic():
        envelope = Envelope.objects.select_for_update(of=("self",)).get(pk=message.envelope_id)
        scrubbed: dict[str, str] = {}
        if message.template == Message.Template.CODE and not settings.SIGNFLOW_DEV_OUTBOX:
            # Once delivered, the code has no business in the database.
            scrubbed = {
                "body": _CODE_RE.sub("******", message.body),
                "subject": _CODE_RE.sub("******", message.subject),
                "html_body": "",
            }
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.SENT,
            sent_at=timezone.now(),
            provider_id=provider_id,
            last_error="",
            **scrubbed,
        )
        audit.event_append(
            envelope=envelope,
            party=message.party,
            type=Event.Type.MESSAGE_SENT,
            data={"message": message.pk, "template": message.template, "channel": message.channel},
        )
    return Message.Status.SENT


def _record_failure(message: Message, exc: Exception, now: Any) -> str:
    final = message.attempts >= settings.SIGNFLOW_MESSAGE_MAX_ATTEMPTS
    status = Message.Status.FAILED if final else Message.Status.QUEUED
    logger.warning("Message %s attempt %s failed: %s", message.pk, message.attempts, exc)
    with transaction.atomic():
        envelope = Envelope.objects.select_for_update(of=("self",)).get(pk=message.envelope_id)
        Message.objects.filter(pk=message.pk).update(
            status=status,
            last_error=str(exc)[:1000] or exc.__class__.__name__,
            next_attempt_at=None if final else now + backoff(message.attempts),
        )
        audit.event_append(
            envelope=envelope,
            party=message.party,
            type=Event.Type.MESSAGE_FAILED,
            data={
                "message": message.pk,
                "attempt": message.attempts,
                "error": str(exc)[:300],
                "final": final,
            },
        )
    return status


def _send(message: Message) -> str:
    if message.channel == Party.Channel.SMS:
        return get_sms_backend().send(to=message.recipient, body=message.body)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    if message.attach_sealed and message.envelope.sealed_id:
        sealed = message.envelope.sealed
        assert sealed is not None
        with sealed.file.open("rb") as fh:
            email.attach(sealed_filename(message.envelope), fh.read(), "application/pdf")
    email.send()
    anymail_status = getattr(email, "anymail_status", None)
    return str(getattr(anymail_status, "message_id", "") or "")


def sweep(*, limit: int = 200) -> int:
    """Send what is still queued and due (after a broker outage or a failed attempt)."""
    now = timezone.now()
    stuck_before = now - timedelta(minutes=10)
    # A worker that died mid-send leaves a row in `sending`: give it back to the queue.
    Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=stuck_before).update(
        status=Message.Status.QUEUED
    )
    due = (
        Message.objects.filter(status=Message.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for message_id in list(due):
        if deliver(message_id=message_id) == Message.Status.SENT:
            sent += 1
    return sent
