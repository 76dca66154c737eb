"""The consent a signer gives before signing: its exact words and their version.

The sign page shows `consent_text(language)` next to the checkbox (the same msgid as
signing/templates/signing/sign.html); party_sign stores the words and CONSENT_VERSION on the
party and in the signed event, and the certificate of completion prints them. Change the
version whenever the words change.
"""

from django.utils import translation
from django.utils.translation import gettext as _

CONSENT_VERSION = "2026-11-30"


def consent_text(language: str) -> str:
    """The consent sentence exactly as the sign page shows it in `language`."""
    with translation.override(language):
        return _(
            "I agree to sign this document electronically. I understand that this is an "
            "electronic signature, not a qualified electronic signature, and that it has the "
            "value the applicable law gives it."
        )
