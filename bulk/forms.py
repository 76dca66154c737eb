from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from bulk.parsing import MAX_FILE_BYTES, MAX_ROWS
from documents.access import can_view_document, can_view_template, is_manager
from documents.models import Document, DocumentTemplate
from signflow.text import CleanTextMixin


class NewBatchForm(CleanTextMixin, forms.Form):
    source = forms.ChoiceField(label=_("Send"))
    file = forms.FileField(
        label=_("Recipients (CSV or XLSX)"),
        help_text=_(
            "One recipient per line, a header line first. At most %(rows)s lines and %(mb)s MB."
        )
        % {"rows": MAX_ROWS, "mb": MAX_FILE_BYTES // (1024 * 1024)},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        templates = [
            t for t in DocumentTemplate.objects.order_by("name") if can_view_template(user, t)
        ]
        # One's own documents with fields; a manager may use any (documents.access).
        documents = Document.objects.filter(fields__isnull=False)
        if not is_manager(user):
            documents = documents.filter(created_by=user)
        documents = documents.distinct().order_by("-id")[:100]
        field = self.fields["source"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (str(_("Templates")), [(f"t:{t.pk}", t.name) for t in templates]),
            (str(_("Documents with fields")), [(f"d:{d.pk}", d.title) for d in documents]),
        ]
        self.sources = {f"t:{t.pk}" for t in templates} | {f"d:{d.pk}" for d in documents}

    def clean_source(self) -> DocumentTemplate | Document:
        kind, _sep, pk = self.cleaned_data["source"].partition(":")
        if kind == "t":
            template = DocumentTemplate.objects.filter(pk=int(pk)).first()
            if template is not None and can_view_template(self.user, template):
                return template
        elif kind == "d":
            document = Document.objects.filter(pk=int(pk)).first()
            if document is not None and can_view_document(self.user, document):
                return document
        raise forms.ValidationError(_("Choose a template or a document."))


class MappingForm(forms.Form):
    """One select per column of the file: what the column holds."""

    def __init__(
        self, *args: Any, header: list[str], choices: list[tuple[str, Any]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for index, title in enumerate(header):
            self.fields[f"col-{index}"] = forms.ChoiceField(
                label=title or _("Column %s") % (index + 1), choices=choices, required=False
            )

    def mapping(self) -> dict[str, str]:
        return {
            name.removeprefix("col-"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("col-") and value
        }
