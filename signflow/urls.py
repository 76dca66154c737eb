from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from api.v1 import api as api_v1
from signflow import accounts, metrics, views


def provider_webhook_urls() -> list[URLPattern | URLResolver]:
    """django-anymail's delivery webhooks, routed only when a shared secret lets them tell the
    provider from a stranger posting a forged bounce (development included: set one to try)."""
    if not settings.ANYMAIL["WEBHOOK_SECRET"]:
        return []
    return [path("webhooks/anymail/", include("anymail.urls"))]


urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("login/code/", accounts.login_code, name="login_code"),
    path("account/two-step/", accounts.two_factor, name="two_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    *provider_webhook_urls(),
    path("crm/", include("crm.urls")),
    path("documents/", include("documents.urls")),
    path("settings/webhooks/", include("webhooks.urls")),
    path("bulk/", include("bulk.urls")),
    path("api/v1/", api_v1.urls),
    path("", include("api.urls")),
    path("", include("verification.urls")),
    path("", include("signing.urls")),
]

# MEDIA_ROOT is never served as such, not even in development: it holds the sealing keys and
# every document. Files reach people through views that check access (or a signer's link).
