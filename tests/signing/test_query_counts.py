"""Query budgets of the hot paths: the signer page, the delivery of one message and the audit
append. A budget that creeps up fails here before it shows up as latency in production."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from signing import audit, notifications
from signing.models import Envelope, Event, Message
from tests.signing.conftest import last_message, link_token, sign_with_code, stamp_png

pytestmark = pytest.mark.django_db

DIRECTOR = "claire.dubois@atelier-lumiere.fr"

# Measured on 2026-11-30 (SQLite and PostgreSQL alike), before: 10 first view, 4 later views.
# First view: party+envelope+document+company (1), lock the envelope (1), mark opened (1),
# chain tail (1), event insert (1), fields (1), filled values (1), session (1).
SIGNER_FIRST_VIEW_MAX = 8
SIGNER_LATER_VIEW_MAX = 2
# The page loads only some columns of the envelope, document and company
# (services._common.PAGE_COLUMNS): reading another one would cost one query more per view.
# Confirmed: + the session row. Signed: + what the parties filled (shown in place).
SIGNER_CONFIRMED_VIEW_MAX = 3
SIGNER_SIGNED_VIEW_MAX = 3


def _token(envelope: Envelope) -> str:
    return link_token(last_message(template="invitation", recipient=DIRECTOR))


def test_the_signer_page_stays_within_its_query_budget(
    sent_envelope: Envelope, django_assert_max_num_queries
):
    token = _token(sent_envelope)
    client = Client()
    with django_assert_max_num_queries(SIGNER_FIRST_VIEW_MAX):
        first = client.get(f"/s/{token}/")
    assert first.status_code == 200
    assert Event.objects.filter(envelope=sent_envelope, type=Event.Type.LINK_OPENED).count() == 1
    with django_assert_max_num_queries(SIGNER_LATER_VIEW_MAX):
        later = client.get(f"/s/{token}/")
    assert later.status_code == 200
    # The page still shows the party's own boxes to sign.
    assert first.content.count(b"fieldbox") == later.content.count(b"fieldbox")


def test_the_confirmed_and_the_signed_pages_stay_within_their_query_budgets(
    sent_envelope: Envelope, django_assert_max_num_queries
):
    token = _token(sent_envelope)
    client = Client()
    sign_with_code(client, token, DIRECTOR)
    with django_assert_max_num_queries(SIGNER_CONFIRMED_VIEW_MAX):
        confirmed = client.get(f"/s/{token}/")
    assert confirmed.status_code == 200
    assert b'id="sign-form"' in confirmed.content
    signing = client.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Claire Dubois",
            "stamp-method": "uploaded",
            "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
            "consent": "1",
        },
    )
    assert signing.status_code == 302
    with django_assert_max_num_queries(SIGNER_SIGNED_VIEW_MAX):
        signed = Client().get(f"/s/{token}/")
    assert signed.status_code == 200
    assert b"verdict authentic" in signed.content  # "You have signed this document."


def test_delivering_one_message_stays_within_its_query_budget(
    sent_envelope: Envelope, django_assert_max_num_queries
):
    message = Message.objects.create(
        envelope=sent_envelope,
        party=sent_envelope.parties.get(role="company"),
        template=Message.Template.REMINDER,
        channel="email",
        recipient=DIRECTOR,
        subject="Reminder",
        body="Please sign",
    )
    # claim, load message+envelope+party, lock envelope, mark sent, chain tail, event insert,
    # plus SAVEPOINT/RELEASE here because the test runs inside a transaction (9 before the party
    # was loaded with the message).
    with django_assert_max_num_queries(8):
        status = notifications.deliver(message_id=message.pk)
    assert status == Message.Status.SENT
    assert Event.objects.filter(envelope=sent_envelope, type=Event.Type.MESSAGE_SENT).exists()


def test_event_append_reads_only_the_tail_of_the_chain(sent_envelope: Envelope):
    for n in range(5):
        audit.event_append(envelope=sent_envelope, type=Event.Type.REMINDED, data={"n": n})
    tail = Event.objects.filter(envelope=sent_envelope).order_by("-id").first()
    assert tail is not None
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        event = audit.event_append(envelope=sent_envelope, type=Event.Type.REMINDED)
    selects = [
        q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert len(selects) == 1, selects
    assert "LIMIT 1" in selects[0].upper(), selects[0]
    assert event.prev_hash == tail.hash
    assert audit.chain_check(envelope=sent_envelope).ok


def test_the_chain_tail_has_an_envelope_id_index():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Event._meta.db_table)
    assert any(
        c["index"] and c["columns"] == ["envelope_id", "id"] for c in constraints.values()
    ), constraints
