from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _builtin_templates(**kwargs: Any) -> None:
    """After `migrate` (and a test database's flush), the built-in templates exist: pages and
    the API read them and never write on GET."""
    from documents.models import DocumentTemplate
    from documents.services import ensure_builtin_templates

    using = kwargs.get("using", "default")
    if not DocumentTemplate.objects.using(using).filter(builtin=True).exists():
        ensure_builtin_templates()


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = _("Documents")

    def ready(self) -> None:
        post_migrate.connect(_builtin_templates, sender=self, dispatch_uid="documents-builtins")
