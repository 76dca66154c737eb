from django.urls import include, path

from signing import compare_views, correct_views, signer_views, stamp_views, views, webhooks

app_name = "signing"

urlpatterns = [
    # The board, list view and manager pages live in signing/board_urls.py.
    path("", include("signing.board_urls")),
    path("envelopes/<int:envelope_id>/", views.envelope_detail, name="envelope_detail"),
    path(
        "envelopes/<int:envelope_id>/download/", views.envelope_download, name="envelope_download"
    ),
    path(
        "envelopes/<int:envelope_id>/compare/",
        compare_views.envelope_compare,
        name="envelope_compare",
    ),
    path("envelopes/<int:envelope_id>/remind/", views.envelope_remind, name="envelope_remind"),
    path(
        "envelopes/<int:envelope_id>/correct/",
        correct_views.envelope_correct,
        name="envelope_correct",
    ),
    path(
        "envelopes/<int:envelope_id>/correct/fields/",
        correct_views.envelope_correct_fields,
        name="envelope_correct_fields",
    ),
    path("envelopes/<int:envelope_id>/cancel/", views.envelope_cancel, name="envelope_cancel"),
    path("envelopes/<int:envelope_id>/discard/", views.envelope_discard, name="envelope_discard"),
    path(
        "envelopes/<int:envelope_id>/new-version/",
        views.envelope_replace,
        name="envelope_replace",
    ),
    path(
        "envelopes/<int:envelope_id>/retry-sealing/",
        views.envelope_retry_sealing,
        name="envelope_retry_sealing",
    ),
    path(
        "envelopes/<int:envelope_id>/parties/<int:party_id>/reissue/",
        views.party_reissue,
        name="party_reissue",
    ),
    path(
        "envelopes/<int:envelope_id>/messages/<int:message_id>/retry/",
        views.message_retry,
        name="message_retry",
    ),
    path("invoices/<int:invoice_id>/send/", views.send_invoice, name="send_invoice"),
    path("deals/<int:deal_id>/send/", views.send_deal, name="send_deal"),
    path("send/<int:document_id>/", views.send, name="send"),
    path("send/<int:document_id>/language/", views.send_language, name="send_language"),
    path("dev/outbox/", views.dev_outbox, name="dev_outbox"),
    # A manager's stamp page for one of our companies (crm.access.can_manage_companies).
    path("companies/<int:company_id>/stamp/", stamp_views.company_stamp, name="company_stamp"),
    path(
        "companies/<int:company_id>/stamp.png",
        stamp_views.company_stamp_image,
        name="company_stamp_image",
    ),
    path(
        "companies/<int:company_id>/stamp/remove/",
        stamp_views.company_stamp_remove,
        name="company_stamp_remove",
    ),
    path(
        "companies/<int:company_id>/client-stamp/",
        stamp_views.company_client_stamp,
        name="company_client_stamp",
    ),
    path("webhooks/twilio/", webhooks.twilio_status, name="twilio_status"),
    # The signer's side: a link, no account.
    path("s/<str:token>/", signer_views.sign_page, name="sign"),
    path("s/<str:token>/code/send/", signer_views.code_send, name="code_send"),
    path("s/<str:token>/code/", signer_views.code_confirm, name="code_confirm"),
    path("s/<str:token>/sign/", signer_views.sign_submit, name="sign_submit"),
    path("s/<str:token>/decline/", signer_views.decline, name="decline"),
    path("s/<str:token>/pages/<int:page>.png", signer_views.page_image, name="page_image"),
    path("s/<str:token>/download/", signer_views.download, name="download"),
    path("s/<str:token>/copy.pdf", signer_views.copy_download, name="copy_download"),
    path("s/<str:token>/compare/", compare_views.signer_compare, name="signer_compare"),
    path("s/<str:token>/stamp.png", signer_views.default_stamp, name="default_stamp"),
]
