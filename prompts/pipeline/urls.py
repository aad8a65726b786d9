"""The pipeline's pages: the console's gateway keys and dispatch, moderation holds, /metrics."""

from django.urls import path

from prompts.pipeline.views import holds, keys
from prompts.pipeline.views.metrics import metrics

urlpatterns = [
    path("console/", keys.console, name="console"),
    path("console/keys/", keys.console_keys, name="console_keys"),
    path("console/keys/add/", keys.key_add, name="console_key_add"),
    path("console/keys/<int:key_id>/verify/", keys.key_verify, name="console_key_verify"),
    path("console/keys/<int:key_id>/activate/", keys.key_activate,
         name="console_key_activate"),
    path("console/keys/<int:key_id>/standby/", keys.key_standby, name="console_key_standby"),
    path("console/keys/<int:key_id>/revoke/", keys.key_revoke, name="console_key_revoke"),
    path("console/dispatch/resume/", keys.dispatch_resume_view,
         name="console_dispatch_resume"),
    path("team/holds/", holds.hold_list, name="hold_list"),
    path("team/holds/<int:hold_id>/release/", holds.hold_release_view, name="hold_release"),
    path("metrics", metrics, name="metrics"),
]
