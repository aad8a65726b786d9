"""What the Reconciliation page reads: runs, a run's items, and its CSV. A manager sees their
team's part of each run (its calls, its ¥, its differences); a site admin sees everything,
including log entries no ledger row explains."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from prompts.models import ReconciliationItem, ReconciliationRun


@dataclass(frozen=True)
class TeamPart:
    """One team's share of a run."""

    calls: int
    yuan_ledger: Decimal
    differences: int
    settled: int


def team_part(run: ReconciliationRun, team_id: int) -> TeamPart:
    values = run.teams.get(str(team_id)) or {}
    return TeamPart(calls=values.get("calls", 0),
                    yuan_ledger=Decimal(values.get("yuan_ledger", "0")),
                    differences=values.get("differences", 0), settled=values.get("settled", 0))


def reconciliation_runs() -> QuerySet:
    return ReconciliationRun.objects.select_related("created_by").order_by("-started_at", "-id")


def run_items(run: ReconciliationRun, *, team_id: int | None) -> QuerySet:
    """The run's items, of one team (a manager's view) or all (team_id None: site admins)."""
    items = run.items.select_related("team").order_by("kind", "id")
    return items if team_id is None else items.filter(team_id=team_id)


CSV_HEADER = (
    _("Kind"), _("Call"), _("Team"), _("Model"), _("Call started"),
    _("Logged by the gateway"), _("Request id"), _("Ledger state"),
    _("Ledger input tokens"), _("Ledger output tokens"), _("Ledger (¥)"),
    _("Gateway input tokens"), _("Gateway output tokens"), _("Gateway (¥)"),
    _("Quota"), _("Note"),
)


def item_note(item: ReconciliationItem) -> str:
    if item.kind == ReconciliationItem.Kind.SETTLED:
        if not item.by_request_id:
            return str(_("Settled from the log (matched by time, confirmed by a person)"))
        return str(_("Settled from the log (matched by request id)"))
    if item.settled_not_billed:
        return str(_("Settled as not billed: the log has no such call"))
    if item.kind == ReconciliationItem.Kind.GATEWAY_ONLY and item.call_id:
        if item.state == "in_flight":
            return str(_("The call was still in flight"))
        return str(_("Probably this unconfirmed call (matched by time only): not settled"))
    return ""


def item_settleable(item: ReconciliationItem) -> bool:
    """A probable match by time alone, its call still unconfirmed: a person may settle it."""
    return (item.kind == ReconciliationItem.Kind.GATEWAY_ONLY and item.call_id is not None
            and item.state == "unknown")


def run_csv_rows(run: ReconciliationRun, *, team_id: int | None) -> Iterator[list]:
    """Header and one row per item, streamed; ¥ exact (6 places)."""
    yield [str(header) for header in CSV_HEADER]
    for item in run_items(run, team_id=team_id).iterator(chunk_size=2000):
        yield [
            item.get_kind_display(), item.call_id or "", item.team.name if item.team else "",
            item.model, item.started_at.isoformat() if item.started_at else "",
            item.logged_at.isoformat() if item.logged_at else "",
            item.request_id or item.client_request_id, item.state,
            _blank(item.ledger_prompt_tokens), _blank(item.ledger_completion_tokens),
            _blank(item.ledger_cost), _blank(item.gateway_prompt_tokens),
            _blank(item.gateway_completion_tokens), _blank(item.gateway_cost),
            _blank(item.quota), item_note(item),
        ]


def _blank(value):
    return "" if value is None else value
