"""The site admins' console: gateway keys, dispatch, audit log, users, teams and roles."""

from django.urls import path

from accounts import views_console as views

urlpatterns = [
    path("", views.console, name="console"),
    path("keys/", views.console_keys, name="console_keys"),
    path("keys/add/", views.key_add, name="console_key_add"),
    path("keys/<int:key_id>/verify/", views.key_verify, name="console_key_verify"),
    path("keys/<int:key_id>/activate/", views.key_activate, name="console_key_activate"),
    path("keys/<int:key_id>/standby/", views.key_standby, name="console_key_standby"),
    path("keys/<int:key_id>/revoke/", views.key_revoke, name="console_key_revoke"),
    path("dispatch/resume/", views.dispatch_resume, name="console_dispatch_resume"),
    path("audit/", views.audit_log, name="console_audit"),
    path("audit/export.csv", views.audit_export, name="console_audit_export"),
    path("users/", views.user_list, name="console_users"),
    path("users/create/", views.user_create, name="console_user_create"),
    path("users/<int:user_id>/active/", views.user_active, name="console_user_active"),
    path("users/<int:user_id>/staff/", views.user_staff, name="console_user_staff"),
    path("users/lockouts/clear/", views.lockouts_clear, name="console_lockouts_clear"),
    path("teams/create/", views.team_create, name="console_team_create"),
    path("memberships/set/", views.membership_set, name="console_membership_set"),
    path("memberships/<int:membership_id>/remove/", views.membership_remove,
         name="console_membership_remove"),
]
