from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SigningConfig(AppConfig):
    name = "signing"
    verbose_name = _("Signing")

    def ready(self) -> None:
        from signing import (
            crm_panels,
            webhooks,  # noqa: F401  (connects the anymail tracking receiver)
        )

        crm_panels.register()
