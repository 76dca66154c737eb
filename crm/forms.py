"""CRM forms: they check and normalise input; the writes happen in crm.services."""

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Counterparty, Deal, DealEvent, DealStage, OwnCompany
from crm.services import VAT_RATES, LineData
from crm.validators import CLEANERS, check_siret_matches_siren
from signflow.text import CleanTextMixin

CURRENCIES = [("EUR", "EUR (€)"), ("USD", "USD ($)"), ("GBP", "GBP (£)"), ("CHF", "CHF")]

REQUISITE_FIELDS = [
    "legal_name",
    "legal_form",
    "siren",
    "siret",
    "vat_number",
    "rcs_city",
    "address",
    "iban",
    "bic",
]


def model_form_data(form: "forms.ModelForm[Any]") -> dict[str, Any]:
    """The cleaned values of a model form's own fields: what a crm.services save takes (the
    form validates input, the service writes)."""
    return {name: form.cleaned_data[name] for name in form._meta.fields or []}


class NormalisingForm(CleanTextMixin, forms.ModelForm):
    """Runs crm.validators on every identifier or phone field the form has.

    A wrong value is refused with the failed check next to its field; a right one is stored
    normalised (compact identifiers, E.164 phones).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # People type identifiers with spaces ("732 829 320"): accept the longer input here,
        # the model's own length limit applies to the normalised value.
        for name in CLEANERS:
            field = self.fields.get(name)
            if isinstance(field, forms.CharField):
                field.max_length = 60
                field.validators = [
                    v for v in field.validators if not isinstance(v, MaxLengthValidator)
                ]
                field.widget.attrs["maxlength"] = "60"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, cleaner in CLEANERS.items():
            if name in cleaned and name not in self.errors:
                try:
                    cleaned[name] = cleaner(cleaned[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        if "siren" in cleaned and "siret" in cleaned:
            try:
                check_siret_matches_siren(
                    siren_value=cleaned["siren"], siret_value=cleaned["siret"]
                )
            except ValidationError as exc:
                self.add_error("siret", exc)
        return cleaned


class OwnCompanyForm(NormalisingForm):
    class Meta:
        model = OwnCompany
        fields = [
            *REQUISITE_FIELDS,
            "director_name",
            "director_title",
            "director_email",
            "director_phone",
            # The stamp has its own page (contributed by another app through crm.panels).
            "ask_client_stamp",
            "is_default",
        ]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}


class CounterpartyForm(NormalisingForm):
    class Meta:
        model = Counterparty
        fields = ["kind", *REQUISITE_FIELDS, "email", "phone"]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}
        labels = {"legal_name": _("Name (legal name for a company)")}


class ContactForm(NormalisingForm):
    class Meta:
        model = Contact
        fields = ["name", "position", "email", "phone"]


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.counterparty})"


class EmployeeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class DealForm(CleanTextMixin, forms.ModelForm):
    currency = forms.ChoiceField(label=_("currency"), choices=CURRENCIES, initial="EUR")
    amount = forms.DecimalField(
        label=_("amount"),
        max_digits=14,
        decimal_places=2,
        localize=True,
        initial=Decimal(0),
        validators=[MinValueValidator(Decimal(0), _("The amount cannot be negative."))],
    )

    class Meta:
        model = Deal
        fields = [
            "title",
            "company",
            "counterparty",
            "contact",
            "stage",
            "amount",
            "currency",
            "responsible",
        ]
        field_classes = {"contact": ContactChoiceField, "responsible": EmployeeChoiceField}

    def __init__(self, *args: Any, can_reassign: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        contact = cast(forms.ModelChoiceField, self.fields["contact"])
        contact.queryset = Contact.objects.select_related("counterparty")
        cast(forms.ModelChoiceField, self.fields["stage"]).queryset = DealStage.objects.all()
        if can_reassign:
            responsible = cast(forms.ModelChoiceField, self.fields["responsible"])
            responsible.queryset = User.objects.filter(employee__isnull=False).order_by(
                "first_name", "last_name"
            )
        else:
            del self.fields["responsible"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        contact = cleaned.get("contact")
        counterparty = cleaned.get("counterparty")
        if contact and counterparty and contact.counterparty_id != counterparty.pk:
            self.add_error(
                "contact",
                _("%(contact)s is not a contact of %(counterparty)s.")
                % {"contact": contact, "counterparty": counterparty},
            )
        return cleaned


class NoteForm(CleanTextMixin, forms.Form):
    text = forms.CharField(label=_("Add a note"), max_length=500)

    kind = DealEvent.Kind.NOTE


class InvoiceForm(CleanTextMixin, forms.Form):
    issue_date = forms.DateField(
        label=_("issue date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    due_date = forms.DateField(label=_("due date"), widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # The dates' order is a rule of crm.services (invoice_create / invoice_update): one place,
    # the same code ("due_date") on this page and in the API.


def _rate_label(rate: Decimal) -> str:
    return f"{rate.normalize():f} %"


class InvoiceLineForm(CleanTextMixin, forms.Form):
    description = forms.CharField(label=_("description"), max_length=300)
    quantity = forms.DecimalField(
        label=_("quantity"),
        max_digits=12,
        decimal_places=3,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
        error_messages={"invalid": _("Quantity: enter a number, e.g. 2 or 1.5.")},
        validators=[MinValueValidator(Decimal("0.001"), _("Quantity must be greater than zero."))],
    )
    unit = forms.CharField(
        label=_("unit"), max_length=20, required=False, widget=forms.TextInput(attrs={"size": 6})
    )
    unit_price = forms.DecimalField(
        label=_("unit price"),
        max_digits=14,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 10}),
        error_messages={"invalid": _("Unit price: enter an amount, e.g. 120 or 99.90.")},
        validators=[MinValueValidator(Decimal(0), _("Unit price cannot be negative."))],
    )
    vat_rate = forms.TypedChoiceField(
        label=_("VAT rate"),
        choices=[(str(rate), _rate_label(rate)) for rate in VAT_RATES],
        coerce=Decimal,
        initial="20",
        error_messages={
            "invalid_choice": _("Unknown VAT rate: choose 20 %%, 10 %%, 5.5 %%, 2.1 %% or 0 %%.")
        },
    )

    def line_data(self) -> LineData:
        data = self.cleaned_data
        return {
            "description": data["description"],
            "quantity": data["quantity"],
            "unit": data.get("unit", ""),
            "unit_price": data["unit_price"],
            "vat_rate": data["vat_rate"],
        }


class BaseInvoiceLineFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if not self.lines():
            raise ValidationError(_("An invoice needs at least one line."))

    def lines(self) -> list[LineData]:
        return [
            form.line_data()
            for form in self.forms
            if form.has_changed() and not form.cleaned_data.get("DELETE")
        ]


InvoiceLineFormSet = forms.formset_factory(
    InvoiceLineForm, formset=BaseInvoiceLineFormSet, extra=3, can_delete=True
)


STAGE_FIELDS = ["position", "code", "name_fr", "name_en", "is_closed", "on_signature"]


class DealStageForm(CleanTextMixin, forms.ModelForm):
    class Meta:
        model = DealStage
        fields = STAGE_FIELDS


class BaseDealStageFormSet(forms.BaseModelFormSet):
    def clean(self) -> None:
        super().clean()
        marked = [f for f in self.forms if getattr(f, "cleaned_data", {}).get("on_signature")]
        if len(marked) > 1:
            raise ValidationError(
                _("Only one stage can be the one a deal reaches when its document is signed."),
                code="on_signature",
            )


DealStageFormSet = forms.modelformset_factory(
    DealStage,
    form=DealStageForm,
    formset=BaseDealStageFormSet,
    fields=STAGE_FIELDS,
    extra=1,
    can_delete=False,
)
