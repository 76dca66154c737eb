from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.core import checks


class SignflowConfig(AppConfig):
    default = True
    name = "signflow"
    verbose_name = "SignFlow"

    def ready(self) -> None:
        from signflow import metrics  # noqa: F401 - connects the seal task's metric signals

        checks.register(dev_outbox_check, checks.Tags.security, deploy=True)
        checks.register(provider_webhooks_check, checks.Tags.security)


class SignFlowAdminConfig(admin_apps.AdminConfig):
    """Django's admin with SignFlow's login and its second-factor rule for staff."""

    default = False
    default_site = "signflow.accounts.SignFlowAdminSite"


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


def provider_webhooks_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Without a shared secret anyone could post a forged bounce: the webhooks are not routed."""
    if not settings.ANYMAIL["WEBHOOK_SECRET"] and not settings.DEBUG:
        return [
            checks.Warning(
                "ANYMAIL_WEBHOOK_SECRET is not set: the email provider webhooks "
                "(/webhooks/anymail/...) are off, so bounces and deliveries are not recorded.",
                hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:password' and give the provider the "
                "webhook URL with those credentials (see README).",
                id="signflow.W002",
            )
        ]
    return []
