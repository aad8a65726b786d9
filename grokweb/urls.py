from django.contrib import admin
from django.urls import include, path

from accounts.views import healthz
from prompts.views import moderation
from prompts.views.metrics import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("console/", include("accounts.urls_console")),
    path("api/v1/", include("prompts.urls_api")),
    path("admin/", admin.site.urls),
    path("team/holds/", moderation.hold_list, name="hold_list"),
    path("team/holds/<int:hold_id>/release/", moderation.hold_release_view, name="hold_release"),
    path("", include("prompts.urls_usage")),
    path("", include("prompts.urls")),
]
