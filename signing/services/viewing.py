"""A signer reads the document before signing: a PDF copy as it stands, recorded in the trail."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.flatten import FlattenValue, flatten_pdf
from documents.models import Field
from signing import audit
from signing.models import Envelope, Event, FieldValue, Party
from signing.services._common import SigningError
from signing.services.codes import _locked_party

# Each copy costs a WeasyPrint render and an audit event that the certificate of completion
# lists: a signer reading the document needs a few, a script asking thousands gets refused.
COPIES_PER_DAY = 20


def filled_values(envelope: Envelope) -> list[FlattenValue]:
    """The values the envelope's parties have given so far, images read from storage."""
    values = []
    for value in FieldValue.objects.filter(party__envelope_id=envelope.pk).select_related("field"):
        image = None
        if value.image:
            with value.image.open("rb") as fh:
                image = fh.read()
        values.append(FlattenValue(field=value.field, text=value.text, image=image))
    return values


def copy_download(*, party: Party, ip: str | None, user_agent: str) -> bytes:
    """The unsigned document with its fields as they are: the values earlier parties gave
    drawn in place, every empty field outlined with its label. Nothing is sealed or signed.

    The copy is drawn before the lock (WeasyPrint takes a fraction of a second per page and
    must not hold the envelope); the event is appended under the lock, and the link checked
    again there, so a copy is only ever handed out with its event written.
    """
    envelope = party.envelope
    _check_copies_left(party)
    values = filled_values(envelope)
    filled = {value.field.pk for value in values}
    empty = [
        field
        for field in Field.objects.filter(document_id=envelope.document_id)
        if field.pk not in filled
    ]
    data = flatten_pdf(document=envelope.document, values=values, outlines=empty)
    with transaction.atomic():
        envelope, party = _locked_party(party)
        _check_copies_left(party)  # again under the lock: two requests at once count as two
        audit.event_append(
            envelope=envelope,
            party=party,
            type=Event.Type.COPY_DOWNLOADED,
            ip=ip,
            user_agent=user_agent,
            data={"sha256": hashlib.sha256(data).hexdigest(), "filled": len(values)},
        )
    return data


def _check_copies_left(party: Party) -> None:
    since = timezone.now() - timedelta(days=1)
    copies = Event.objects.filter(
        party=party, type=Event.Type.COPY_DOWNLOADED, created_at__gte=since
    ).count()
    if copies >= COPIES_PER_DAY:
        raise SigningError(
            "copy_limit", _("You downloaded this document many times today. Try again tomorrow.")
        )
