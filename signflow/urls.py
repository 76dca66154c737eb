from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from signflow import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("webhooks/anymail/", include("anymail.urls")),
    path("crm/", include("crm.urls")),
    path("documents/", include("documents.urls")),
    path("", include("verification.urls")),
    path("", include("signing.urls")),
]

# MEDIA_ROOT is never served as such, not even in development: it holds the sealing keys and
# every document. Files reach people through views that check access (or a signer's link).
