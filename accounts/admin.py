from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_noop

from accounts.models import ApiToken, AuditEvent, Budget, GatewayKey, Membership, Team, User

# Texts Django admin shows that come without Chinese: Django 5.2's new table headings, and
# the models of django-axes (sign-in lock-outs). Listed here so our catalog translates them.
UNTRANSLATED_ELSEWHERE = (
    gettext_noop("Model name"), gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("access attempt"), gettext_noop("access attempts"),
    gettext_noop("access failure"), gettext_noop("access failures"),
    gettext_noop("access log"), gettext_noop("access logs"),
    gettext_noop("access attempt expiration"), gettext_noop("access attempt expirations"),
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [MembershipInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name", "created_at"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["role", "team"]


@admin.register(GatewayKey)
class GatewayKeyAdmin(admin.ModelAdmin):
    """Keys are added and rotated through `manage.py gateway_key`; the secret is never shown."""

    list_display = ["name", "masked", "fingerprint", "status", "created_at", "last_used_at"]
    readonly_fields = [
        "name", "masked", "fingerprint", "status", "added_by", "created_at", "verified_at",
        "activated_at", "retiring_until", "last_used_at", "last_error", "last_error_at",
    ]
    exclude = ["secret_encrypted"]

    def has_add_permission(self, request):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    exclude = ["token_digest"]

    def has_add_permission(self, request):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Append-only: visible, never added, changed or deleted here."""

    list_display = ["created_at", "actor", "action", "target_repr", "ip_address"]
    list_filter = ["action"]
    search_fields = ["action", "target_repr"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["team", "user", "monthly_limit", "warn_at", "updated_at"]
