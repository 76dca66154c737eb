from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = _("Verification")

    def ready(self) -> None:
        from verification.checks import keys_location_check, pkcs11_check

        checks.register(keys_location_check, checks.Tags.security)
        checks.register(pkcs11_check, checks.Tags.security)
