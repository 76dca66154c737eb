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
]
