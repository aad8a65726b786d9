"""Template helpers for the workspace pages."""

from django import template

register = template.Library()


@register.inclusion_tag("prompts/cost.html")
def cost(totals):
    """¥ for some ledger rows; unpriced calls are shown loudly, never as ¥0."""
    return {"totals": totals, "all_unpriced": totals.calls and
            totals.unpriced_calls == totals.calls}
