"""Who may choose the company's default templates, the history of every template change, the
version a document was built from, and the send screen's warning.

The incident: employe2 duplicated the invoice template, replaced {{ company.iban }} with another
IBAN and made the copy the default; employe1's next invoice carried that IBAN.
"""

import pypdfium2 as pdfium
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from crm.models import OwnCompany
from documents import services
from documents.models import Document, DocumentTemplate, TemplateVersion
from tests import factories

ROGUE_IBAN = "FR7612739000704417385219K93"
FIELD = '{% field "signature" party="client" key="client-signature" %}'
BODY = "<p>{{ company.legal_name }} IBAN {{ company.iban }}</p>" + FIELD


def _text(document: Document) -> str:
    pdf = pdfium.PdfDocument(document.pdf.open("rb").read())
    try:
        return "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rogue_copy(employee: User) -> DocumentTemplate:
    """What employe2 did: duplicate the invoice template and swap the IBAN for their own."""
    builtin = services.invoice_template_for("fr")
    client = _logged_in(employee)
    client.post(reverse("documents:template_duplicate", args=[builtin.pk]))
    copy = DocumentTemplate.objects.get(builtin=False, created_by=employee)
    response = client.post(
        reverse("documents:template_edit", args=[copy.pk]),
        {
            "name": "Facture (nouvelle)",
            "kind": "invoice",
            "language": "fr",
            "body": copy.body.replace("{{ company.iban }}", ROGUE_IBAN),
            "css": copy.css,
        },
    )
    assert response.status_code == 302
    copy.refresh_from_db()
    assert ROGUE_IBAN in copy.body
    return copy


@pytest.fixture
def own_template(sender: User) -> DocumentTemplate:
    return services.template_create(
        creator=sender, name="Ma facture", kind="invoice", language="fr", body=BODY
    )


def test_an_employee_cannot_make_a_template_the_default(sender, own_template):
    response = _logged_in(sender).post(
        reverse("documents:template_default", args=[own_template.pk]), {"default": "1"}
    )
    assert response.status_code == 403
    own_template.refresh_from_db()
    assert not own_template.is_default_for_invoices
    assert services.invoice_template_for("fr").builtin
    assert not TemplateVersion.objects.filter(change="default_set").exists()


def test_the_service_refuses_an_employee_too(sender, own_template):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.template_set_default(template=own_template, default=True, actor=sender)
    own_template.refresh_from_db()
    assert not own_template.is_default_for_invoices


def test_only_managers_see_the_default_buttons(sender, manager, own_template):
    label = "Make it the default for invoices"
    assert label not in _logged_in(sender).get(reverse("documents:template_list")).content.decode()
    assert label in _logged_in(manager).get(reverse("documents:template_list")).content.decode()


def test_a_manager_sets_the_default_and_both_changes_are_audited(sender, manager, own_template):
    other = services.template_create(
        creator=sender, name="Autre facture", kind="invoice", language="fr", body=BODY
    )
    client = _logged_in(manager)
    url = reverse("documents:template_default", args=[own_template.pk])
    assert client.post(url, {"default": "1"}).status_code == 302
    client.post(reverse("documents:template_default", args=[other.pk]), {"default": "1"})
    assert services.invoice_template_for("fr") == other
    set_row = other.versions.get(change="default_set")
    unset_row = own_template.versions.get(change="default_unset")
    assert set_row.author == manager and unset_row.author == manager
    assert unset_row.summary["replaced_by"] == other.pk
    assert set_row.is_default and not unset_row.is_default


def test_the_employees_rogue_copy_never_reaches_the_next_invoice(
    company: OwnCompany, sender, colleague
):
    copy = _rogue_copy(colleague)
    response = _logged_in(colleague).post(
        reverse("documents:template_default", args=[copy.pk]), {"default": "1"}
    )
    assert response.status_code == 403
    invoice = factories.make_invoice(factories.make_deal(company=company, responsible=sender))
    document = services.document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    text = _text(document)
    assert ROGUE_IBAN not in text.replace(" ", "")
    assert company.iban in text.replace(" ", "")
    assert document.template is not None and document.template.builtin


def test_a_default_can_only_be_changed_by_a_manager(colleague, manager):
    copy = _rogue_copy(colleague)
    services.template_set_default(template=copy, default=True, actor=manager)
    client = _logged_in(colleague)
    url = reverse("documents:template_edit", args=[copy.pk])
    body_before = copy.body
    page = client.get(url).content.decode()
    assert "only a manager can change it" in page and "<fieldset disabled>" in page
    client.post(
        url,
        {"name": "x", "kind": "invoice", "language": "fr", "body": BODY, "css": ""},
    )
    copy.refresh_from_db()
    assert copy.body == body_before
    assert copy.is_default_for_invoices
    listing = client.get(reverse("documents:template_list")).content.decode()
    assert reverse("documents:template_remove", args=[copy.pk]) not in listing
    assert client.post(reverse("documents:template_remove", args=[copy.pk])).status_code == 404
    assert DocumentTemplate.objects.filter(pk=copy.pk).exists()


def test_every_change_is_audited_with_author_time_and_content(sender, colleague):
    copy = _rogue_copy(colleague)
    rows = list(copy.versions.order_by("number"))
    assert [row.change for row in rows] == ["duplicated", "updated"]
    assert all(row.author == colleague and row.created_at for row in rows)
    duplicated, updated = rows
    assert duplicated.summary["source_name"] == "Facture"
    assert "{{ company.iban }}" in duplicated.body and ROGUE_IBAN in updated.body
    assert updated.summary["previous_sha256"] == duplicated.sha256
    assert updated.summary["body_added"] >= 1 and updated.summary["body_removed"] >= 1
    assert updated.summary["fields"] == ["name"]

    _logged_in(colleague).post(reverse("documents:template_remove", args=[copy.pk]))
    deleted = TemplateVersion.objects.get(change="deleted")
    assert deleted.template is None and deleted.name == "Facture (nouvelle)"
    assert deleted.author == colleague
    assert TemplateVersion.objects.filter(template=None).count() == 3


def test_the_template_page_shows_the_history_with_the_change(colleague):
    copy = _rogue_copy(colleague)
    page = _logged_in(colleague).get(reverse("documents:template_edit", args=[copy.pk]))
    html = page.content.decode()
    assert 'id="template-history"' in html
    assert 'data-version="2"' in html and 'data-version="1"' in html
    assert colleague.get_full_name() in html
    assert ROGUE_IBAN in html and "-  {% if company.iban %}" in html


def test_a_document_records_the_version_that_built_it(sender, own_template):
    document = services.document_create_from_template(
        template=own_template, context={}, title="Contrat", creator=sender, language="fr"
    )
    first = own_template.versions.get(number=1)
    assert document.template_version == first
    services.template_update(
        template=own_template,
        actor=sender,
        name="Ma facture",
        kind="invoice",
        language="fr",
        body=BODY.replace("IBAN", "Compte"),
    )
    document.refresh_from_db()
    assert document.template_version == first
    assert "IBAN" in document.template_version.body


def test_a_builtin_template_gets_a_recorded_version_when_first_used(company, sender):
    invoice = factories.make_invoice(factories.make_deal(company=company, responsible=sender))
    document = services.document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    version = document.template_version
    assert version is not None and version.change == "recorded" and version.author is None
    again = services.document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    assert again.template_version == version


def test_the_send_screen_warns_about_a_template_that_is_not_the_default(
    sender, own_template, company
):
    document = services.document_create_from_template(
        template=own_template, context={}, title="Facture spéciale", creator=sender, language="fr"
    )
    html = _logged_in(sender).get(reverse("signing:send", args=[document.pk])).content.decode()
    assert 'id="template-notice"' in html
    assert "default template" in html
    assert "Ma facture" in html and sender.get_full_name() in html


def test_the_send_screen_says_nothing_for_the_default_invoice(company, sender):
    invoice = factories.make_invoice(factories.make_deal(company=company, responsible=sender))
    document = services.document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    html = _logged_in(sender).get(reverse("signing:send", args=[document.pk])).content.decode()
    assert 'id="template-notice"' not in html


def test_access_rules_for_defaults_branch_by_branch(sender, colleague, manager, outsider):
    from django.contrib.auth.models import AnonymousUser

    from documents.access import can_edit_template, can_set_default

    mine = services.template_create(
        creator=sender, name="Mienne", kind="invoice", language="en", body=BODY
    )
    assert not can_set_default(AnonymousUser(), mine)
    assert not can_set_default(outsider, mine)
    assert not can_set_default(sender, mine)  # its author, but not a manager
    assert not can_set_default(colleague, mine)
    assert can_set_default(manager, mine)
    assert can_edit_template(sender, mine)
    services.template_set_default(template=mine, default=True, actor=manager)
    mine.refresh_from_db()
    assert not can_edit_template(sender, mine)  # a default: managers only
    assert can_edit_template(manager, mine)
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    assert not can_set_default(manager, mine)
