"""Display helpers for usage pages: ¥ to 2 places (rounded here only), unpriced shown loudly.

The cell tags build table cells in Python: a year-long report has hundreds of rows, and an
{% include %} per cell made rendering the slowest part of the page."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from prompts.usage.money import yuan as format_yuan

register = template.Library()

COUNT_FIELDS = ("calls", "ok_calls", "moderation_calls", "failed_calls", "prompt_tokens",
                "completion_tokens")


@register.filter
def yuan(amount) -> str:
    return format_yuan(amount)


@register.filter
def num(value) -> str:
    """An integer with thousands grouped."""
    return f"{value:,}" if isinstance(value, int) else value


@register.filter
def normalize_decimal(value) -> str:
    """A price without its trailing zeros: 2.000000 → 2, 0.150000 → 0.15."""
    return f"{value.normalize():f}" if value is not None else ""


@register.filter
def percent(share) -> str:
    """0.80 → 80%."""
    return f"{(share * 100).normalize():f}%" if share is not None else ""


def _unpriced(text: str, count: int) -> str:
    return format_html('<span class="unpriced">{}</span>', text % {"n": f"{count:,}"})


def _money_html(usage, field: str) -> str:
    """¥ of a usage figure; never ¥0 when every call was unpriced."""
    if usage.all_unpriced:
        if field == "waste_cost":
            return "—"
        return _unpriced(gettext("unpriced calls: %(n)s"), usage.unpriced_calls)
    html = "¥" + format_yuan(getattr(usage, field))
    if field == "cost" and usage.unpriced_calls:
        html += "<br>" + _unpriced(gettext("+ unpriced calls: %(n)s"), usage.unpriced_calls)
    return html


@register.simple_tag
def cost(usage) -> str:
    return mark_safe(_money_html(usage, "cost"))


@register.simple_tag
def waste(usage) -> str:
    return mark_safe(_money_html(usage, "waste_cost"))


@register.simple_tag
def usage_cells(usage, total: bool = False) -> str:
    """The ten number cells of a report row; `total` marks them for the tfoot."""
    def attrs(name: str) -> str:
        return f' data-total="{name}"' if total else ""

    cells = [f'<td class="num"{attrs(name)}>{getattr(usage, name):,}</td>'
             for name in COUNT_FIELDS]
    cells += [f'<td class="num"{attrs(name)}>{_money_html(usage, name)}</td>'
              for name in ("cost", "waste_cost")]
    per_record = usage.cost_per_accepted
    cells.append(f'<td class="num"{attrs("accepted_records")}>{usage.accepted_records:,}</td>')
    cells.append(f'<td class="num"{attrs("cost_per_accepted")}>'
                 f'{"—" if per_record is None else "¥" + format_yuan(per_record)}</td>')
    return mark_safe("".join(cells))
