"""The template editor: list, create, edit, preview, duplicate, default for invoices, access."""

import pytest
from django.test import Client
from django.urls import reverse

from documents import services
from documents.errors import DocumentError
from documents.models import DocumentTemplate

pytestmark = pytest.mark.urls("tests.documents.urlconf")

BODY = (
    "<h1>{{ company.legal_name }}</h1><p>{{ client.legal_name }}</p>"
    '{% field "signature" party="client" key="client-signature" %}'
)


@pytest.fixture
def own_template(sender):
    return services.template_create(
        creator=sender, name="Ma facture", kind="invoice", language="fr", body=BODY, css=""
    )


def form_data(**changes):
    data = {"name": "Devis", "kind": "other", "language": "en", "body": BODY, "css": ""}
    data.update(changes)
    return data


def test_the_list_shows_my_templates_and_the_builtin_ones(sender_client, own_template):
    response = sender_client.get(reverse("documents:template_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ma facture" in html
    assert "Non-disclosure agreement" in html and "Accord de confidentialité" in html


def test_a_colleague_does_not_see_my_template_in_the_list(client, colleague, own_template):
    client.force_login(colleague)
    assert "Ma facture" not in client.get(reverse("documents:template_list")).content.decode()


def test_a_manager_sees_the_templates_of_colleagues(client, manager, own_template):
    client.force_login(manager)
    html = client.get(reverse("documents:template_list")).content.decode()
    assert "Ma facture" in html and 'id="colleague-templates"' in html


def test_a_user_who_is_not_an_employee_gets_a_404(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("documents:template_list")).status_code == 404
    assert client.get(reverse("documents:template_new")).status_code == 404


def test_the_new_template_page_has_a_toolbar_and_a_live_preview(sender_client):
    response = sender_client.get(reverse("documents:template_new"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-insert="field"' in html and 'data-insert="variable"' in html
    assert '<option value="company.legal_name">' in html
    assert 'hx-post="/documents/templates/preview/"' in html
    assert "delay:700ms" in html
    assert "data:image/png;base64," in html  # the starter body, previewed server-side


def test_an_employee_creates_a_template_and_it_renders_documents(sender_client, sender):
    response = sender_client.post(reverse("documents:template_new"), form_data())
    template = DocumentTemplate.objects.get(name="Devis")
    assert response.status_code == 302
    assert response["Location"] == reverse("documents:template_edit", args=[template.pk])
    assert template.created_by == sender and not template.builtin
    document = services.document_create_from_template(
        template=template,
        context={"company": {"legal_name": "A"}, "client": {"legal_name": "B"}},
        title="Devis",
        creator=sender,
        language="en",
    )
    assert list(document.fields.values_list("key", flat=True)) == ["client-signature"]


def test_a_template_with_a_syntax_error_is_not_saved_and_the_line_is_shown(sender_client):
    body = "<p>ok</p>\n<p>ok</p>\n{% if client.is_company %}<p>no end"
    response = sender_client.post(reverse("documents:template_new"), form_data(body=body))
    assert response.status_code == 400
    html = response.content.decode()
    assert "line 3" in html
    assert "endif" in html
    assert not DocumentTemplate.objects.filter(name="Devis").exists()


def test_an_unknown_field_kind_is_explained(sender_client):
    body = '<p>a</p>\n{% field "autograph" party="client" %}'
    response = sender_client.post(
        reverse("documents:template_preview"), form_data(body=body), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "line 2" in html and "Unknown field kind" in html and "autograph" in html


@pytest.mark.parametrize(
    "body",
    [
        '<img src="file:///etc/passwd">',
        '<img src="http://127.0.0.1:9/x.png">',
        '<link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/">',
        '<style>@import url("file:///etc/hostname");</style>',
    ],
)
def test_an_unsafe_template_is_previewed_with_the_addresses_blocked(sender_client, body):
    response = sender_client.post(
        reverse("documents:template_preview"), form_data(body=body), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "were blocked" in html
    assert "root:x:0:0" not in html


def test_a_template_cannot_include_files_or_load_other_tag_libraries(sender_client):
    for body in ['{% include "/etc/passwd" %}', "{% load static %}{% static 'x' %}"]:
        response = sender_client.post(
            reverse("documents:template_preview"), form_data(body=body), HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        assert "could not be rendered" in response.content.decode()


def test_crm_values_in_the_preview_are_escaped(sender_client, company):
    company.legal_name = '</span><img src=x onerror="alert(1)">'
    company.save()
    response = sender_client.post(
        reverse("documents:template_preview"),
        form_data(body="<p>{{ company.legal_name }}</p>"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "were blocked" not in response.content.decode()


def test_the_preview_shows_the_field_boxes_and_another_page(sender_client):
    body = '<p>one</p><p style="break-after: page"></p><p>two</p>{% field "date" party="company" %}'
    page1 = sender_client.post(
        reverse("documents:template_preview"), form_data(body=body), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Page 1 of 2" in page1 and "preview-box" not in page1
    page2 = sender_client.post(
        reverse("documents:template_preview"),
        form_data(body=body, page="2"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Page 2 of 2" in page2 and "preview-box party-company" in page2


def test_without_javascript_the_preview_button_shows_the_whole_editor(sender_client):
    response = sender_client.post(reverse("documents:template_preview"), form_data(page="1"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="template-form"' in html and "data:image/png;base64," in html


def test_the_creator_edits_their_template(sender_client, own_template):
    url = reverse("documents:template_edit", args=[own_template.pk])
    response = sender_client.post(url, form_data(name="Facture v2", kind="invoice"))
    assert response.status_code == 302
    own_template.refresh_from_db()
    assert own_template.name == "Facture v2" and own_template.language == "en"


def test_a_colleague_can_neither_open_nor_change_my_template(client, colleague, own_template):
    client.force_login(colleague)
    url = reverse("documents:template_edit", args=[own_template.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, form_data(name="Pirate")).status_code == 404
    own_template.refresh_from_db()
    assert own_template.name == "Ma facture"


def test_a_manager_may_change_a_colleagues_template(client, manager, own_template):
    client.force_login(manager)
    url = reverse("documents:template_edit", args=[own_template.pk])
    assert client.post(url, form_data(name="Revue")).status_code == 302
    own_template.refresh_from_db()
    assert own_template.name == "Revue"


def test_a_builtin_template_is_read_only_but_can_be_duplicated(sender_client, sender):
    builtin = services.invoice_template_for("fr")
    url = reverse("documents:template_edit", args=[builtin.pk])
    page = sender_client.get(url).content.decode()
    assert "read-only" in page and "<fieldset disabled>" in page
    body_before = builtin.body
    response = sender_client.post(url, form_data(body="<p>changed</p>"))
    assert response.status_code == 302
    builtin.refresh_from_db()
    assert builtin.body == body_before
    response = sender_client.post(reverse("documents:template_duplicate", args=[builtin.pk]))
    copy = DocumentTemplate.objects.get(builtin=False)
    assert response["Location"] == reverse("documents:template_edit", args=[copy.pk])
    assert copy.body == builtin.body and copy.created_by == sender
    assert copy.name == "Copy of Facture"


def test_the_preview_of_a_builtin_template_uses_what_is_stored(sender_client):
    builtin = services.invoice_template_for("en")
    response = sender_client.post(
        reverse("documents:template_preview"),
        {"template": builtin.pk, "page": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert "data:image/png;base64," in response.content.decode()


def test_one_default_invoice_template_per_language(client, manager, sender, own_template):
    # Defaults are a manager's call (tests/security/test_template_governance.py).
    client.force_login(manager)
    other = services.template_create(
        creator=sender, name="Autre", kind="invoice", language="fr", body=BODY
    )
    url = reverse("documents:template_default", args=[own_template.pk])
    assert client.post(url, {"default": "1"}).status_code == 302
    assert services.invoice_template_for("fr") == own_template
    client.post(reverse("documents:template_default", args=[other.pk]), {"default": "1"})
    own_template.refresh_from_db()
    assert not own_template.is_default_for_invoices
    assert services.invoice_template_for("fr") == other
    assert services.invoice_template_for("en").builtin
    client.post(reverse("documents:template_default", args=[other.pk]), {"default": "0"})
    assert services.invoice_template_for("fr").builtin


def test_only_an_invoice_template_can_be_the_default(sender, manager):
    agreement = services.template_create(
        creator=sender, name="Contrat", kind="agreement", language="fr", body=BODY
    )
    with pytest.raises(DocumentError):
        services.template_set_default(template=agreement, default=True, actor=manager)


def test_a_default_that_changes_language_stops_being_the_default(manager, own_template):
    services.template_set_default(template=own_template, default=True, actor=manager)
    services.template_update(
        template=own_template,
        actor=manager,
        name="Invoice",
        kind="invoice",
        language="en",
        body=BODY,
    )
    own_template.refresh_from_db()
    assert not own_template.is_default_for_invoices


def test_a_colleague_cannot_make_my_template_the_default(client, colleague, own_template):
    client.force_login(colleague)
    url = reverse("documents:template_default", args=[own_template.pk])
    assert client.post(url, {"default": "1"}).status_code == 404
    own_template.refresh_from_db()
    assert not own_template.is_default_for_invoices


def test_the_creator_deletes_their_template_a_colleague_cannot(
    colleague, sender_client, own_template
):
    url = reverse("documents:template_remove", args=[own_template.pk])
    other = Client()
    other.force_login(colleague)
    assert other.post(url).status_code == 404
    assert sender_client.post(url).status_code == 302
    assert not DocumentTemplate.objects.filter(pk=own_template.pk).exists()


def test_the_error_is_explained_in_french_to_a_french_user(sender_client):
    sender_client.cookies["django_language"] = "fr"
    body = "<p>a</p>\n<p>b</p>\n{% if client.is_company %}"
    response = sender_client.post(
        reverse("documents:template_preview"),
        form_data(body=body),
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert "ligne 3" in response.content.decode()


def test_a_field_tag_error_is_in_the_readers_language_and_labels_in_the_documents(sender_client):
    sender_client.cookies["django_language"] = "fr"
    response = sender_client.post(
        reverse("documents:template_preview"),
        form_data(body='{% field "autograph" %}', language="en"),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "ligne 1" in html and "Type de champ inconnu" in html
