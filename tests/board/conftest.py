"""Board personas: the signing fixtures, many generated envelopes, and a signer who signs."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from signing.models import Envelope, Message
from tests.signing.conftest import (  # noqa: F401  (fixtures shared with the signing tests)
    invoice,
    link_token,
    media_root,
    sent_envelope,
    sign_with_code,
    stamp_png,
)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    # Column statistics are cached per data version; tests start from an empty cache.
    cache.clear()


@pytest.fixture
def many_envelopes(sender, colleague, manager) -> int:  # type: ignore[no-untyped-def]
    """Envelopes across every stage, spread over the personas and a few generated employees."""
    call_command("generate_envelopes", count=400, batch=200, employees=5, counterparties=20)
    return Envelope.objects.count()


def director_signs(envelope: Envelope) -> None:
    """The company's director opens the link, confirms the code and signs with a stamp."""
    invitation = Message.objects.filter(
        envelope=envelope, template="invitation", party__role="company"
    ).latest("id")
    token = link_token(invitation)
    director = Client()
    sign_with_code(director, token, invitation.recipient)
    response = director.post(
        f"/s/{token}/sign/",
        {
            "signature-method": "typed",
            "signature-typed": "Claire Dubois",
            "stamp-method": "uploaded",
            "stamp-file": SimpleUploadedFile("stamp.png", stamp_png(), "image/png"),
            "consent": "1",
        },
    )
    assert response.status_code == 302, response.content[:500]
