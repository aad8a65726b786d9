from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from accounts.views import healthz


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask /favicon.ico of pages without a <link rel=icon> (JSON, downloads)."""
    return redirect(static("favicon.ico"), permanent=True)


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("console/", include("accounts.console.urls")),
    path("api/v1/", include("prompts.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("prompts.pipeline.urls")),
    path("", include("prompts.usage.urls")),
    path("", include("prompts.workspace.urls")),
]
