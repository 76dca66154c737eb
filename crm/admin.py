"""Django admin for every CRM record; forms are the site's own, so the same checks apply."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from crm import services
from crm.forms import ContactForm, CounterpartyForm, OwnCompanyForm
from crm.models import (
    Contact,
    Counterparty,
    Deal,
    DealEvent,
    DealStage,
    Employee,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    OwnCompany,
)


@admin.register(OwnCompany)
class OwnCompanyAdmin(admin.ModelAdmin):
    form = OwnCompanyForm
    list_display = ["legal_name", "siret", "director_name", "is_default"]
    search_fields = ["legal_name", "siren", "siret"]

    def save_model(self, request: HttpRequest, obj: OwnCompany, form: object, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.is_default:
            services.own_company_make_default(company=obj)


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "role"]
    list_filter = ["role", "company"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]


class ContactInline(admin.TabularInline):
    model = Contact
    form = ContactForm
    extra = 0


@admin.register(Counterparty)
class CounterpartyAdmin(admin.ModelAdmin):
    form = CounterpartyForm
    list_display = ["legal_name", "kind", "siren", "email"]
    list_filter = ["kind"]
    search_fields = ["legal_name", "siren", "siret", "email"]
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    list_display = ["name", "counterparty", "email", "phone"]
    search_fields = ["name", "email", "counterparty__legal_name"]
    fields = ["counterparty", "name", "position", "email", "phone"]


@admin.register(DealStage)
class DealStageAdmin(admin.ModelAdmin):
    list_display = ["position", "code", "name_fr", "name_en", "is_closed"]
    list_display_links = ["code"]
    ordering = ["position"]


class DealEventInline(admin.TabularInline):
    model = DealEvent
    extra = 0
    readonly_fields = ["created_at", "kind", "text", "actor"]
    can_delete = False


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["title", "counterparty", "stage", "amount", "currency", "responsible"]
    list_filter = ["stage", "company"]
    search_fields = ["title", "counterparty__legal_name"]
    list_select_related = ["counterparty", "stage", "responsible"]
    inlines = [DealEventInline]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "deal", "company", "issue_date", "status"]
    list_filter = ["status", "company", "year"]
    search_fields = ["deal__title", "deal__counterparty__legal_name"]
    # Numbers come from invoice_create's locked counter only; the admin never edits them.
    readonly_fields = ["company", "year", "sequence"]
    inlines = [InvoiceLineInline]

    def has_add_permission(self, _request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        return super().get_queryset(request).select_related("deal", "company")


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(admin.ModelAdmin):
    list_display = ["company", "year", "last_sequence"]
    readonly_fields = ["company", "year", "last_sequence"]

    def has_add_permission(self, _request: HttpRequest) -> bool:
        return False


@admin.register(DealEvent)
class DealEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "deal", "kind", "text", "actor"]
    list_filter = ["kind"]
    search_fields = ["text", "deal__title"]
