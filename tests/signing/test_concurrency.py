"""20 simultaneous submits of one party's signature on PostgreSQL: exactly one is recorded."""

import threading

import pytest
from django.db import connection, connections

from signing import services
from signing.models import Envelope, Event, FieldValue, Message, Party
from tests.signing.conftest import director_ready

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_twenty_simultaneous_signatures_record_exactly_one(sent_envelope: Envelope):
    director, values = director_ready(sent_envelope)

    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            party = Party.objects.select_related("envelope").get(pk=director.pk)
            barrier.wait()
            services.party_sign(
                party=party,
                values=values,
                consent=True,
                code_confirmed_in_session=True,
                ip="198.51.100.1",
                user_agent="test",
            )
            result = "recorded"
        except services.SigningError as exc:
            result = exc.code
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # One submit records the signature; the 19 others find the party already signed.
    assert outcomes.count("recorded") == 1, outcomes
    assert outcomes.count("signed") == 19, outcomes
    assert Event.objects.filter(envelope=sent_envelope, type="signed").count() == 1
    assert FieldValue.objects.filter(party=director).count() == len(values) + 1  # + the date
    assert (
        Message.objects.filter(
            envelope=sent_envelope, template="invitation", party__role="client"
        ).count()
        == 1
    )
    sent_envelope.refresh_from_db()
    assert sent_envelope.status == Envelope.Status.AWAITING_CLIENT
