"""Template helpers for the workspace pages."""

from django import template
from django.utils.html import format_html

from prompts.gateway.kept_settings import split_kept_settings
from prompts.workspace.selectors.jobs import error_label, job_display_status

register = template.Library()


@register.inclusion_tag("prompts/cost.html")
def cost(totals):
    """¥ for some ledger rows; unpriced calls are shown loudly, never as ¥0."""
    return {"totals": totals, "all_unpriced": totals.calls and
            totals.unpriced_calls == totals.calls}


@register.simple_tag
def job_badge(job, element_id: str = ""):
    """A job's status badge; a job waiting for its next attempt reads "Retrying"."""
    code, label = job_display_status(job)
    if element_id:
        return format_html('<span class="badge status-{}" id="{}">{}</span>', code,
                           element_id, label)
    return format_html('<span class="badge status-{}">{}</span>', code, label)


@register.filter
def job_error(code: str) -> str:
    return error_label(code)


@register.filter
def brief_parts(brief: str) -> dict:
    """A brief's own text and the settings its "Keep these settings" block asks for."""
    text, kept = split_kept_settings(brief or "")
    return {"text": text, "kept": kept}


@register.filter
def brief_text(brief: str) -> str:
    """A brief without its "Keep these settings" block, for lists."""
    return split_kept_settings(brief or "")[0]
