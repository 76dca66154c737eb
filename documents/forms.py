from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from documents.models import Field


class UploadForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    language = forms.ChoiceField(label=_("Language of the document"), choices=settings.LANGUAGES)


class FieldForm(forms.Form):
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
