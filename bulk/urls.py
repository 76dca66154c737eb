from django.urls import path

from bulk import views

app_name = "bulk"

urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("new/", views.batch_new, name="batch_new"),
    path("<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("<int:batch_id>/send/", views.batch_send, name="batch_send"),
    path("<int:batch_id>/progress/", views.batch_progress, name="batch_progress"),
    path("<int:batch_id>/not-sent.csv", views.batch_failed_csv, name="batch_failed_csv"),
    path("<int:batch_id>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("<int:batch_id>/remind/", views.batch_remind, name="batch_remind"),
]
