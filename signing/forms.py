from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

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


class _Amount(forms.DecimalField):
    """An amount as people type it ("1 500,50"); past a trillion it is no invoice of ours (and
    1e999999 would overflow the column)."""

    def __init__(self) -> None:
        limit = Decimal(10) ** 12
        super().__init__(required=False, max_value=limit, min_value=-limit)

    def to_python(self, value: Any) -> Any:  # Decimal | None (the stubs say int)
        if isinstance(value, str):
            value = value.replace(",", ".").replace(" ", "").replace("\u00a0", "")
        return super().to_python(value)


def _row_id() -> forms.IntegerField:
    # An id past the database's integer range is no row of ours (and would be a DataError).
    return forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


def _day() -> forms.DateField:
    # ISO dates only; an impossible one (02-30, month 13) is invalid, never a 500.
    return forms.DateField(required=False, input_formats=["%Y-%m-%d"])


def _flag() -> forms.ChoiceField:
    return forms.ChoiceField(required=False, choices=[("1", "1")])


class BoardFilterForm(forms.Form):
    """The board's and list's filters from the query string. A value that does not parse is
    left out of `cleaned_data` (the filter is ignored), never an error page."""

    q = forms.CharField(required=False, strip=True)
    responsible = _row_id()
    company = _row_id()
    counterparty = _row_id()
    created_from = _day()
    created_to = _day()
    amount_min = _Amount()
    amount_max = _Amount()
    mine = _flag()
    overdue = _flag()
    batch = _row_id()
