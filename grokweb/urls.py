from django.contrib import admin
from django.urls import include, path

from accounts.views import healthz

urlpatterns = [
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
