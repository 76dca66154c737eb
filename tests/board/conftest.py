"""Board personas: the signing fixtures, many generated envelopes, and a signer who signs."""

import pytest
from django.core.cache import cache
from django.core.management import call_command

from signing.models import Envelope
from tests.signing.conftest import (  # noqa: F401  (fixtures shared with the signing tests)
    director_signs,
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
