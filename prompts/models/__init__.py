"""The models of the prompts app, one module per concern; import them from here."""

from prompts.models.jobs import GenerationJob, PromptRecord, SubmissionKey, TaskType
from prompts.models.ledger import DailyUsage, GatewayCall
from prompts.models.library import Comment, Favourite, Rating, Tag
from prompts.models.pricing import GatewayModel, ModelPrice
from prompts.models.safety import BlockedTerm, DispatchPause, ModerationHold
from prompts.models.workspace import Batch, Project, ReferenceImage, reference_path

__all__ = [
    "Batch",
    "BlockedTerm",
    "Comment",
    "DailyUsage",
    "DispatchPause",
    "Favourite",
    "GatewayCall",
    "GatewayModel",
    "GenerationJob",
    "ModelPrice",
    "ModerationHold",
    "Project",
    "PromptRecord",
    "Rating",
    "ReferenceImage",
    "SubmissionKey",
    "Tag",
    "TaskType",
    "reference_path",
]
