"""The models of the prompts app, one module per concern; import them from here."""

from prompts.models.jobs import GenerationJob, PromptRecord, SubmissionKey, TaskType
from prompts.models.ledger import DailyUsage, GatewayCall
from prompts.models.library import Comment, Favourite, Rating, Tag
from prompts.models.pricing import GatewayModel, ModelPrice
from prompts.models.review import ReviewStep, ShareLink, TeamReviewer
from prompts.models.safety import BlockedTerm, DispatchPause, ModerationHold
from prompts.models.studio import BriefTemplate, HouseStyle, HouseStyleVersion
from prompts.models.webhooks import (
    SUBSCRIBABLE_EVENTS,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventKind,
)
from prompts.models.workspace import Batch, Project, ReferenceImage, reference_path

__all__ = [
    "SUBSCRIBABLE_EVENTS",
    "Batch",
    "BlockedTerm",
    "BriefTemplate",
    "Comment",
    "DailyUsage",
    "DispatchPause",
    "Favourite",
    "GatewayCall",
    "GatewayModel",
    "GenerationJob",
    "HouseStyle",
    "HouseStyleVersion",
    "ModelPrice",
    "ModerationHold",
    "Project",
    "PromptRecord",
    "Rating",
    "ReferenceImage",
    "ReviewStep",
    "ShareLink",
    "SubmissionKey",
    "Tag",
    "TaskType",
    "TeamReviewer",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookEventKind",
    "reference_path",
]
