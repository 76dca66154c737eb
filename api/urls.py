from django.urls import path

from api import views

app_name = "api"

urlpatterns = [
    path("account/api-keys/", views.key_list, name="keys"),
    path("account/api-keys/<int:key_id>/revoke/", views.key_revoke, name="key_revoke"),
]
