from django.contrib import admin

from prompts.models import (
    Batch,
    BlockedTerm,
    Comment,
    DailyUsage,
    DispatchPause,
    Favourite,
    GatewayCall,
    GatewayModel,
    GenerationJob,
    ModelPrice,
    ModerationHold,
    Project,
    PromptRecord,
    Rating,
    ReferenceImage,
    Tag,
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
    raw_id_fields = ["parent", "batch"]
    filter_horizontal = ["references"]


@admin.register(PromptRecord)
class PromptRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "author", "needs_review", "created_at"]
    search_fields = ["positive_prompt", "job__brief"]
    raw_id_fields = ["job"]


for model in (Project, ReferenceImage, Batch, Tag, Favourite, Rating, Comment, GatewayModel,
              BlockedTerm, ModerationHold, DispatchPause):
    admin.site.register(model)
