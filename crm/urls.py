from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/new/", views.deal_create, name="deal_create"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:deal_id>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:deal_id>/note/", views.deal_note, name="deal_note"),
    path("deals/<int:deal_id>/invoices/new/", views.invoice_create, name="invoice_create"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:invoice_id>/edit/", views.invoice_edit, name="invoice_edit"),
    path("invoices/<int:invoice_id>/status/", views.invoice_status, name="invoice_status"),
    path("invoices/<int:invoice_id>/print/", views.invoice_print, name="invoice_print"),
    path("counterparties/", views.counterparty_list, name="counterparty_list"),
    path("counterparties/new/", views.counterparty_edit, name="counterparty_create"),
    path(
        "counterparties/<int:counterparty_id>/",
        views.counterparty_detail,
        name="counterparty_detail",
    ),
    path(
        "counterparties/<int:counterparty_id>/edit/",
        views.counterparty_edit,
        name="counterparty_edit",
    ),
    path(
        "counterparties/<int:counterparty_id>/contacts/new/",
        views.contact_edit,
        name="contact_create",
    ),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("companies/", views.company_list, name="company_list"),
    path("companies/new/", views.company_edit, name="company_create"),
    path("companies/<int:company_id>/edit/", views.company_edit, name="company_edit"),
    path("companies/<int:company_id>/default/", views.company_make_default, name="company_default"),
    path("stages/", views.stage_list, name="stage_list"),
]
