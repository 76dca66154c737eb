from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from signflow.text import CleanTextMixin
from signing.models import Envelope, Party


class PartyForm(CleanTextMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.CharField(label=pgettext_lazy("signing", "Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=30, required=False)
    channel = forms.ChoiceField(
        label=_("Send the link and the code by"),
        choices=Party.Channel.choices,
        widget=forms.RadioSelect,
        initial=Party.Channel.EMAIL,
    )


class SendOptionsForm(CleanTextMixin, forms.Form):
    language = forms.ChoiceField(label=_("Document language"), choices=Envelope.Language.choices)
    deadline_days = forms.IntegerField(
        label=_("Deadline (days)"),
        min_value=1,
        max_value=365,
        initial=30,
        error_messages={
            "min_value": _("The deadline must be at least one day."),
            "invalid": _("Enter a whole number of days."),
        },
    )
    reminder_every_days = forms.TypedChoiceField(
        label=_("Automatic reminders"),
        coerce=int,
        choices=[
            (0, _("Never")),
            (1, _("Every day")),
            (2, _("Every 2 days")),
            (3, _("Every 3 days")),
            (7, _("Every week")),
        ],
        initial=3,
    )
    reminder_max = forms.IntegerField(label=_("At most"), min_value=1, max_value=20, initial=3)
    note = forms.CharField(
        label=_("Message to the signers"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def deadline(self) -> datetime:
        return timezone.now() + timedelta(days=self.cleaned_data["deadline_days"])


class ReasonForm(CleanTextMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Give a reason.")},
    )


class ReissueForm(CleanTextMixin, forms.Form):
    email = forms.CharField(label=pgettext_lazy("signing", "Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=30, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Party.Channel.choices)
