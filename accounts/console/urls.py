"""The site admins' console: audit log, users, teams and roles (gateway keys and dispatch
are the pipeline's console pages, under the same /console/ prefix)."""

from django.urls import path

from accounts.console import views

urlpatterns = [
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
