"""Display filters for usage pages: ¥ to 2 places (rounded here only) and percentages."""

from django import template

from prompts.selectors.money import yuan as format_yuan

register = template.Library()


@register.filter
def yuan(amount) -> str:
    return format_yuan(amount)


@register.filter
def normalize_decimal(value) -> str:
    """A price without its trailing zeros: 2.000000 → 2, 0.150000 → 0.15."""
    return f"{value.normalize():f}" if value is not None else ""


@register.filter
def percent(share) -> str:
    """0.80 → 80%."""
    return f"{(share * 100).normalize():f}%" if share is not None else ""
