from tests.signing.conftest import (  # noqa: F401  (fixtures)
    invoice,
    media_root,
    sent_envelope,
)
