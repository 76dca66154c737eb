from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("<int:document_id>/pages/<int:page>.png", views.page_image_view, name="page_image"),
    path("<int:document_id>/fields/", views.edit_fields, name="edit_fields"),
    path("<int:document_id>/fields/add/", views.field_add, name="field_add"),
    path("<int:document_id>/fields/<int:field_id>/", views.field_change, name="field_change"),
    path(
        "<int:document_id>/fields/<int:field_id>/delete/", views.field_remove, name="field_remove"
    ),
    path("<int:document_id>/previews/", views.previews_status, name="previews_status"),
    path("<int:document_id>/previews/retry/", views.previews_retry, name="previews_retry"),
    path("<int:document_id>/layout/save/", views.layout_save, name="layout_save"),
    path("<int:document_id>/layout/apply/", views.layout_apply, name="layout_apply"),
    path("layouts/", views.layout_list, name="layout_list"),
    path("layouts/<int:layout_id>/delete/", views.layout_remove, name="layout_remove"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/new/", views.template_new, name="template_new"),
    path("templates/preview/", views.template_preview_view, name="template_preview"),
    path("templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path(
        "templates/<int:template_id>/duplicate/",
        views.template_duplicate,
        name="template_duplicate",
    ),
    path("templates/<int:template_id>/default/", views.template_default, name="template_default"),
    path("templates/<int:template_id>/delete/", views.template_remove, name="template_remove"),
]
