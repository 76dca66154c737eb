import shutil
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from documents.authoring import MAX_BODY_CHARS, MAX_CSS_CHARS
from documents.models import DocumentTemplate, Field, FieldLayout
from signflow.text import CleanTextMixin


class UploadForm(CleanTextMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    language = forms.ChoiceField(label=_("Language of the document"), choices=settings.LANGUAGES)
    layout = forms.ModelChoiceField(
        label=_("Field layout"),
        queryset=FieldLayout.objects.none(),
        required=False,
        empty_label=_("None: place the fields after the upload"),
        help_text=_("Places the fields of a layout you saved; the pages must be of the same size."),
    )

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        layouts = FieldLayout.objects.filter(created_by_id=user.pk).order_by("name")
        field = self.fields["layout"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = layouts
        # Kept when empty so that a posted id that is not one's own is refused, not ignored.
        self.has_layouts = layouts.exists()
        if shutil.which("soffice"):  # documents.uploads converts office files with it
            upload = self.fields["file"]
            upload.help_text = _("PDF, PNG, JPEG, Word (DOC, DOCX) or OpenDocument (ODT).")
            upload.widget.attrs["accept"] = ".pdf,.png,.jpg,.jpeg,.doc,.docx,.odt,.rtf"


class FieldForm(CleanTextMixin, forms.Form):
    """A field's placement from the editor, in PDF points (bottom-left origin)."""

    kind = forms.ChoiceField(choices=Field.Kind.choices)
    role = forms.ChoiceField(choices=Field.Role.choices)
    page = forms.IntegerField(min_value=1)
    x = forms.FloatField(min_value=0)
    y = forms.FloatField(min_value=0)
    width = forms.FloatField(min_value=1)
    height = forms.FloatField(min_value=1)
    label = forms.CharField(max_length=200, required=False)
    required = forms.BooleanField(required=False)
    phrase = forms.CharField(max_length=200, required=False)


class TemplateForm(CleanTextMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=DocumentTemplate.Kind.choices)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    body = forms.CharField(
        label=_("HTML body"),
        max_length=MAX_BODY_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )
    css = forms.CharField(
        label=_("Page CSS"),
        max_length=MAX_CSS_CHARS,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
    )


class LayoutSaveForm(CleanTextMixin, forms.Form):
    name = forms.CharField(label=_("Name of the layout"), max_length=200)
