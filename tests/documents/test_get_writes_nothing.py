"""The templates page and the API's template list only read: the built-in templates are
created after `migrate` (documents.apps), not by whoever opens a page first."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from documents.models import DocumentTemplate
from tests.crm.test_writes import row_counts

pytestmark = pytest.mark.django_db


def test_the_templates_page_writes_nothing_even_without_builtin_templates(
    sender_client: Client,
) -> None:
    DocumentTemplate.objects.filter(builtin=True).delete()
    before = row_counts()
    response = sender_client.get(reverse("documents:template_list"))
    assert response.status_code == 200
    assert row_counts() == before


def test_the_templates_page_reads_the_builtin_templates(sender_client: Client) -> None:
    before = row_counts()
    html = sender_client.get(reverse("documents:template_list")).content.decode()
    assert row_counts() == before
    assert "Non-disclosure agreement" in html and "Accord de confidentialité" in html


def test_migrate_creates_the_builtin_templates() -> None:
    DocumentTemplate.objects.filter(builtin=True).delete()
    call_command("migrate", verbosity=0)
    builtins = DocumentTemplate.objects.filter(builtin=True)
    assert set(builtins.values_list("kind", "language")) == {
        (kind, language) for kind in ("invoice", "agreement", "nda") for language in ("fr", "en")
    }
