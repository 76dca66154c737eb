"""List the stored document templates the sandbox refuses (documents.sandbox).

    manage.py check_templates

Templates saved before the allow-list may use a tag or filter that is no longer allowed; they
fail with a clear message when a document is built from them. This finds them beforehand:
each line names the template, its author and the refusal with its line. Exit status 1 when
any is refused, so a deployment script can stop on it.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from documents.models import DocumentTemplate
from documents.rendering import template_compile_error


class Command(BaseCommand):
    help = "List the stored document templates that the template sandbox refuses."

    def handle(self, *_args: Any, **_options: Any) -> None:
        refused = 0
        for template in DocumentTemplate.objects.select_related("created_by").order_by("pk"):
            problem = template_compile_error(template.body)
            if problem is None:
                continue
            refused += 1
            author = template.created_by.get_username() if template.created_by else "-"
            self.stdout.write(f"#{template.pk} {template.name!r} ({author}): {problem}")
        if refused:
            raise CommandError(f"{refused} template(s) refused by the sandbox")
        self.stdout.write("Every stored template compiles in the sandbox.")
