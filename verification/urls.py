from django.urls import path

from verification import crl, views

app_name = "verification"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("verify/root.pem", views.root_certificate, name="root_certificate"),
    path("verify/crl/root.crl", crl.crl_view, name="crl"),
    path("verify/<str:code>/", views.by_code, name="by_code"),
    path("api/verify", views.api_verify, name="api_verify"),
    path("api/verify/<str:code>", views.api_by_code, name="api_by_code"),
]
