"""Templates written in the browser run in a sandbox: an allow-list of tags and filters, a budget
of loop turns, output and CPU time, and a child process with kernel limits behind it."""

import time

import pytest
from django.contrib.auth.models import User
from django.template import Context
from django.urls import reverse
from django.utils import translation

from documents import services
from documents.errors import DocumentError
from documents.isolation import LimitExceeded, run_limited
from documents.models import DocumentTemplate
from documents.rendering import render_html, render_pdf
from documents.sandbox import ENGINE
from tests import factories

LONG = "x" * 9000
# The attack from the incident: three nested loops over a 9 000-character string.
NESTED_FOR = (
    "<p>{{ company.legal_name }}</p>\n"
    "{% with s='" + LONG + "' %}\n"
    "{% for a in s %}{% for b in s %}{% for c in s %}{{ c }}{% endfor %}{% endfor %}{% endfor %}\n"
    "{% endwith %}"
)
FIELD = '{% field "signature" party="client" key="client-signature" %}'


def _refusal(body: str, user: User) -> str:
    with pytest.raises(DocumentError) as caught:
        services.template_create(
            creator=user, name="Piège", kind="invoice", language="fr", body=body
        )
    assert not DocumentTemplate.objects.filter(name="Piège").exists()
    return caught.value.message


def test_nested_loops_over_a_long_string_stop_quickly_with_the_line(sender):
    started = time.monotonic()
    message = _refusal(NESTED_FOR, sender)
    assert time.monotonic() - started < 6
    assert "line 3" in message and "loops of this template run more than" in message


def test_the_editor_preview_shows_the_refusal_instead_of_hanging(client, sender):
    client.force_login(sender)
    started = time.monotonic()
    response = client.post(
        reverse("documents:template_preview"),
        {"name": "x", "kind": "other", "language": "en", "body": NESTED_FOR, "page": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert time.monotonic() - started < 6
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error template-error"' in html and "loops of this template" in html


def test_the_refusal_is_in_the_editors_language(sender):
    with translation.override("fr"):
        message = _refusal(NESTED_FOR, sender)
    assert "ligne 3" in message and "boucles" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p>x</p>\n{% debug %}", "{% debug %} is not allowed"),
        ("{% load static %}<img src=\"{% static 'x.png' %}\">", '"static" cannot be loaded'),
        ("{% load log %}", '"log" cannot be loaded'),
        ("{% include 'base.html' %}", "{% include %} is not allowed"),
        ("{% extends 'base.html' %}", "{% extends %} is not allowed"),
        ("{% ssi '/etc/passwd' %}", "{% ssi %} is not allowed"),
        ("{% templatetag openblock %} debug {% templatetag closeblock %}", "{% templatetag %}"),
        ("{% url 'home' %}", "{% url %} is not allowed"),
        ("{% csrf_token %}", "{% csrf_token %} is not allowed"),
        ("{% autoescape off %}{{ client.legal_name }}{% endautoescape %}", "{% autoescape %}"),
        ("{{ company|pprint }}", 'filter "pprint" is not allowed'),
        ("{{ client.legal_name|safe }}", 'filter "safe" is not allowed'),
        ("{{ company.iban.__class__ }}", "underscore"),
    ],
)
def test_tags_and_filters_off_the_list_are_refused_with_their_line(sender, body, expected):
    message = _refusal(body, sender)
    assert expected in message
    assert "line " in message


def test_debug_prints_nothing_of_the_server(sender):
    # What the incident's PDF showed: module paths. The tag no longer reaches rendering.
    message = _refusal("{% debug %}", sender)
    assert "site-packages" not in message and "django" not in message.lower()


def test_the_shipped_load_i18n_still_works(sender):
    template = services.template_create(
        creator=sender,
        name="Avec i18n",
        kind="other",
        language="fr",
        body="{% load i18n %}<p>{% translate 'Invoice' %} {{ company.iban }}</p>" + FIELD,
    )
    assert template.pk


def test_output_is_capped(sender):
    body = "{% with s='" + "y" * 3000 + "' %}{% for c in s %}{{ s }}{% endfor %}{% endwith %}"
    message = _refusal(body, sender)
    assert "more than 2\u202f000\u202f000 characters of HTML" in message


def test_a_join_that_multiplies_a_string_is_capped(sender):
    body = "{% with s='" + "y" * 5000 + "' %}{{ s|join:s }}{% endwith %}"
    assert "characters of HTML" in _refusal(body, sender)


def test_padding_filters_are_capped(sender):
    html, _collector = render_html(body="[{{ 'a'|ljust:'100000000' }}]", context={}, language="en")
    assert len(html) == 202


def test_data_from_clients_is_always_escaped(sender):
    html, _collector = render_html(
        body="{{ client.legal_name }}",
        context={"client": {"legal_name": '<img src="http://evil.example/x">'}},
        language="en",
    )
    assert "<img" not in html and "&lt;img" in html


def test_templates_get_plain_data_only(sender):
    with pytest.raises(TypeError):
        render_html(body="{{ user }}", context={"user": sender}, language="en")
    with pytest.raises(TypeError):
        render_pdf(body="x", css="", context={"rows": [sender]}, language="en")


def test_methods_that_change_data_are_not_called_even_on_a_model(sender):
    # Below the plain-data check, Django itself refuses to call alters_data methods.
    html = ENGINE.from_string("[{{ user.delete }}][{{ user.save }}]").render(
        Context({"user": sender})
    )
    assert html == "[][]"
    assert User.objects.filter(pk=sender.pk).exists()


def test_a_layout_too_heavy_for_the_pdf_renderer_is_stopped_by_the_cpu_limit(sender):
    # Within the loop and output budgets (30 000 short paragraphs, about 1.7 MB of HTML), but
    # thousands of pages for WeasyPrint: the child's CPU limit stops it, the editor says why.
    body = (
        "{% with s='" + "x" * 30000 + "' %}{% for c in s %}"
        "<p>Ligne {{ forloop.counter }} du document à mettre en page</p>"
        "{% endfor %}{% endwith %}"
    )
    message = _refusal(body, sender)
    assert "took too long to render (more than 5 seconds)" in message


def test_the_kernel_stops_a_render_that_burns_cpu():
    def spin() -> None:
        while True:
            pass

    started = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        run_limited(spin, cpu_seconds=1, memory_bytes=0, wall_seconds=20)
    assert caught.value.reason == "cpu"
    assert time.monotonic() - started < 6


def test_the_kernel_stops_a_render_that_eats_memory():
    def eat() -> int:
        return len(bytearray(3 * 1024 * 1024 * 1024))

    with pytest.raises(LimitExceeded) as caught:
        run_limited(eat, cpu_seconds=5, memory_bytes=256 * 1024 * 1024, wall_seconds=20)
    assert caught.value.reason == "memory"


def test_an_error_of_the_template_comes_back_from_the_child(sender):
    with pytest.raises(DocumentError) as caught:
        render_pdf(body="{% if %}", css="", context={}, language="en")
    assert "could not be rendered" in caught.value.message


def test_a_normal_invoice_still_renders_with_its_fields(company, sender):
    invoice = factories.make_invoice(factories.make_deal(company=company, responsible=sender))
    document = services.document_create_from_invoice(invoice=invoice, creator=sender, language="fr")
    assert document.page_count == 1
    keys = set(document.fields.values_list("key", flat=True))
    assert {"company-signature", "client-signature"} <= keys
    assert document.template_version is not None
    assert document.template_version.body == document.template.body


def test_check_templates_lists_stored_templates_the_sandbox_refuses(sender):
    from io import StringIO

    from django.core.management import CommandError, call_command

    DocumentTemplate.objects.create(
        name="Ancien", kind="other", language="fr", body="<p>x</p>\n{% debug %}", created_by=sender
    )
    DocumentTemplate.objects.create(
        name="Correct", kind="other", language="fr", body="{% load i18n %}<p>x</p>"
    )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check_templates", stdout=out)
    assert "'Ancien' (sophie.bernard)" in out.getvalue() and "line 2" in out.getvalue()
    assert "Correct" not in out.getvalue()
