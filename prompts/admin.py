from django.contrib import admin

from prompts.models import (
    Batch,
    BlockedTerm,
    BriefTemplate,
    Comment,
    DailyUsage,
    DispatchPause,
    Favourite,
    GatewayCall,
    GatewayModel,
    GenerationJob,
    HouseStyle,
    HouseStyleVersion,
    ModelPrice,
    ModerationHold,
    Project,
    PromptRecord,
    Rating,
    ReferenceImage,
    ReviewStep,
    ShareLink,
    Tag,
    TeamReviewer,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger and its rollup are written by the pipeline only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GatewayCall)
class GatewayCallAdmin(ReadOnlyAdmin):
    list_display = ["job", "attempt", "outcome", "http_status", "prompt_tokens",
                    "completion_tokens", "cost", "created_at"]
    list_filter = ["outcome", "model"]


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ["day", "team", "user", "project", "model", "calls", "cost"]
    list_filter = ["team", "model"]


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "input_per_mtok", "output_per_mtok", "effective_from", "is_example"]

    def has_change_permission(self, request, obj=None):
        # A price in force is history; a new price is a new row.
        return False


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "created_by", "status", "wait_reason", "attempts", "created_at"]
    list_filter = ["status", "wait_reason", "task_type"]
    raw_id_fields = ["parent", "batch", "template", "style_version"]
    filter_horizontal = ["references"]


@admin.register(PromptRecord)
class PromptRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "author", "needs_review", "review_status", "created_at"]
    list_filter = ["review_status"]
    search_fields = ["positive_prompt", "job__brief"]
    raw_id_fields = ["job", "approved_by"]


# The studio: versions, links and the webhook log are history, kept by their services.

class HouseStyleVersionInline(admin.TabularInline):
    model = HouseStyleVersion
    extra = 0
    can_delete = False
    readonly_fields = [field.name for field in HouseStyleVersion._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(HouseStyle)
class HouseStyleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "archived_at"]
    inlines = [HouseStyleVersionInline]


@admin.register(BriefTemplate)
class BriefTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "task_type", "style", "archived_at"]
    readonly_fields = ["variables"]


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = ["token_prefix", "team", "record", "project", "expires_at", "revoked_at",
                    "views"]
    exclude = ["token_hmac"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "team", "events", "is_active", "created_at"]
    fields = readonly_fields = ["team", "url", "description", "events", "secret_masked",
                                "is_active", "created_by", "created_at"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "team", "kind", "created_at", "fanned_out_at"]
    list_filter = ["kind"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "endpoint", "event", "status", "attempts", "last_status_code"]
    list_filter = ["status"]


@admin.register(WebhookDeliveryAttempt)
class WebhookDeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "number", "status_code", "duration_ms", "outcome",
                    "started_at"]


for model in (Project, ReferenceImage, Batch, Tag, Favourite, Rating, Comment, GatewayModel,
              BlockedTerm, ModerationHold, DispatchPause, TeamReviewer, ReviewStep):
    admin.site.register(model)
