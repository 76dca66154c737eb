"""The team page's declined lists: each employee's latest five, however many declined
envelopes the employees before them in the order have."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from crm.models import OwnCompany
from documents.models import Document
from signing import selectors
from signing.models import Envelope
from tests import factories

pytestmark = pytest.mark.django_db


def declined(user: User, count: int, *, start: int = 0) -> None:
    now = timezone.now()
    documents = Document.objects.bulk_create(
        Document(
            title=f"{user.username} {n}",
            source=Document.Source.UPLOAD,
            language="fr",
            pdf="placeholder.pdf",
            sha256="0" * 64,
            page_count=1,
            created_by=user,
            locked=True,
        )
        for n in range(start, start + count)
    )
    Envelope.objects.bulk_create(
        Envelope(
            document=document,
            title=document.title,
            status=Envelope.Status.DECLINED,
            language="fr",
            responsible=user,
            closed_reason=f"Reason {n}",
            status_changed_at=now - timedelta(minutes=n),
        )
        for n, document in zip(range(start, start + count), documents, strict=True)
    )


def test_an_employee_late_in_the_order_keeps_their_declined_list(company: OwnCompany) -> None:
    # "aaron" sorts first and has more declined envelopes than the old global cap (2 000).
    early = factories.make_user("aaron.first", company=company)
    late = factories.make_user("zoe.last", company=company)
    declined(early, 2001)
    declined(late, 3)
    lists = selectors.latest_declined()
    assert [e.title for e in lists[late.pk]] == ["zoe.last 0", "zoe.last 1", "zoe.last 2"]
    assert [e.title for e in lists[early.pk]] == [f"aaron.first {n}" for n in range(5)]
    rows = {r["employee"].user_id: r for r in selectors.team_overview()["rows"]}
    assert len(rows[late.pk]["declined"]) == 3 and rows[late.pk]["declined_count"] == 3
    assert rows[early.pk]["declined_count"] == 2001
