from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import ApiKey
from signflow.text import CleanTextMixin


class KeyForm(CleanTextMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “Billing system”."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKey.Scope.READ],
        error_messages={"required": _("Choose at least one scope.")},
    )
