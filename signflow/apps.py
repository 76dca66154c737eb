from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class SignflowConfig(AppConfig):
    name = "signflow"
    verbose_name = "SignFlow"

    def ready(self) -> None:
        checks.register(dev_outbox_check, checks.Tags.security, deploy=True)


def dev_outbox_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The development outbox shows every signing link and code to whoever opens it."""
    if settings.SIGNFLOW_DEV_OUTBOX and not settings.DEBUG:
        return [
            checks.Error(
                "SIGNFLOW_DEV_OUTBOX is on in production: /dev/outbox/ would show every signing "
                "link and code to anyone.",
                hint="Unset SIGNFLOW_DEV_OUTBOX (it follows DEBUG by default).",
                id="signflow.E001",
            )
        ]
    return []
