"""Usage and ¥ aggregates for the dashboard, the manager's reports, the CSV export and the
`usage_report` command — all read from the DailyUsage rollup, never the ledger.

Sums are exact Decimals (6 places, like the ledger); only prompts.usage.money rounds,
for display.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from prompts.models import DailyUsage, GatewayCall, ModelPrice
from prompts.usage.budget_status import BudgetStatus, budget_statuses
from prompts.usage.budgets import Unconfirmed
from prompts.usage.ledger import LEDGER_PLACES
from prompts.usage.money import exact, shares, yuan
from prompts.usage.periods import local_midnight, month_start, next_month_start

MONEY_FIELDS = ("cost", "waste_cost")
SUM_FIELDS = (
    "calls", "ok_calls", "moderation_calls", "failed_calls", "prompt_tokens",
    "completion_tokens", "cost", "waste_cost", "unpriced_calls", "accepted_records",
)
GROUPINGS = {
    "user": ("user_id", "user__username"),
    "project": ("project_id", "project__name"),
    "model": ("model",),
    "day": ("day",),
}
GROUP_LABELS = {
    "user": _("User"), "project": _("Project"), "model": _("Model"), "day": _("Day"),
}


@dataclass
class Usage:
    """Counts, tokens and ¥ of a set of calls; `key`/`label` name the group in a report."""

    key: object = None
    label: str = ""
    calls: int = 0
    ok_calls: int = 0
    moderation_calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = field(default_factory=lambda: Decimal("0.000000"))
    waste_cost: Decimal = field(default_factory=lambda: Decimal("0.000000"))
    unpriced_calls: int = 0
    accepted_records: int = 0

    @classmethod
    def from_row(cls, row: dict, *, prefix: str = "", key=None, label: str = "") -> "Usage":
        values = {}
        for name in SUM_FIELDS:
            value = row[prefix + name]
            if name in MONEY_FIELDS:
                # SQLite returns sums with stray digits; the ledger's precision is 6 places.
                values[name] = (value or Decimal(0)).quantize(LEDGER_PLACES)
            else:
                values[name] = value or 0
        return cls(key=key, label=label, **values)

    def add(self, other: "Usage") -> None:
        for name in SUM_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def all_unpriced(self) -> bool:
        """Every call lacked a price: the ¥ figure would be a meaningless 0."""
        return self.calls > 0 and self.unpriced_calls == self.calls

    def _rates(self) -> list[Decimal | None]:
        # Every call is a success, a moderation rejection or a failure: the three add to 100%.
        return shares([self.ok_calls, self.failed_calls, self.moderation_calls])

    @property
    def cost_per_accepted(self) -> Decimal | None:
        """¥ per record someone accepted (favourited, exported or rated 4+): everything spent,
        retries and rejections included, over what was worth keeping. None: none accepted."""
        if not self.accepted_records or self.all_unpriced:
            return None
        return (self.cost / self.accepted_records).quantize(LEDGER_PLACES, ROUND_HALF_UP)

    @property
    def success_rate(self) -> Decimal | None:
        return self._rates()[0]

    @property
    def failure_rate(self) -> Decimal | None:
        return self._rates()[1]

    @property
    def moderation_rate(self) -> Decimal | None:
        return self._rates()[2]


def sums(prefix: str = "", condition: Q | None = None) -> dict:
    return {prefix + name: Sum(name, filter=condition) for name in SUM_FIELDS}


# Reports -----------------------------------------------------------------------------------


def unconfirmed_calls(*, since: date, until: date, team_id: int | None = None,
                      user_id: int | None = None) -> Unconfirmed:
    """Calls of local days since..until (inclusive) whose worker died before the answer and
    that reconciliation has not settled yet: not in any total, shown apart, at most the sum
    of their maximum costs. One query on the ledger's partial index of open calls."""
    calls = GatewayCall.objects.filter(
        state=GatewayCall.State.UNKNOWN, started_at__gte=local_midnight(since),
        started_at__lt=local_midnight(until + timedelta(days=1)))
    if team_id is not None:
        calls = calls.filter(team_id=team_id)
    if user_id is not None:
        calls = calls.filter(user_id=user_id)
    row = calls.aggregate(calls=Count("id"), at_most=Sum("max_cost"),
                          unpriced=Count("id", filter=Q(max_cost__isnull=True)))
    return Unconfirmed(calls=row["calls"], unpriced=row["unpriced"],
                       at_most=(row["at_most"] or Decimal(0)).quantize(LEDGER_PLACES))


@dataclass
class UsageReport:
    team: Team
    since: date
    until: date
    group_by: str
    rows: list[Usage]
    total: Usage
    unconfirmed: Unconfirmed = field(default_factory=Unconfirmed)

    @property
    def group_label(self) -> str:
        return str(GROUP_LABELS[self.group_by])


def _team_range(team_id: int, since: date, until: date):
    return DailyUsage.objects.filter(team_id=team_id, day__gte=since, day__lte=until)


def _group_key_label(group_by: str, row: dict) -> tuple[object, str]:
    if group_by == "user":
        return row["user_id"], row["user__username"]
    if group_by == "project":
        return row["project_id"], row["project__name"]
    if group_by == "model":
        return row["model"], row["model"]
    return row["day"], row["day"].isoformat()


def usage_report(*, team: Team, since: date, until: date, group_by: str) -> UsageReport:
    """A team's usage between two local days (inclusive), grouped; one query.

    The total is the exact sum of the rows, so the screen, the CSV and the command agree."""
    columns = GROUPINGS[group_by]
    ordering = ["day"] if group_by == "day" else [columns[-1]]
    rows = []
    total = Usage(label=str(_("Total")))
    for row in (
        _team_range(team.id, since, until).values(*columns).annotate(**sums())
        .order_by(*ordering)
    ):
        key, label = _group_key_label(group_by, row)
        usage = Usage.from_row(row, key=key, label=label)
        rows.append(usage)
        total.add(usage)
    return UsageReport(team=team, since=since, until=until, group_by=group_by, rows=rows,
                       total=total, unconfirmed=unconfirmed_calls(since=since, until=until,
                                                                  team_id=team.id))


def usage_detail_rows(*, team: Team, since: date, until: date) -> Iterator[dict]:
    """Every rollup row (day × user × project × model) of the range, streamed from the database
    in chunks for the CSV export."""
    return (
        _team_range(team.id, since, until)
        .values("day", "user__username", "project__name", "model", *SUM_FIELDS)
        .order_by("day", "user__username", "project__name", "model")
        .iterator(chunk_size=2000)
    )


@dataclass
class Statement:
    team: Team
    month: date
    until: date
    by_user: UsageReport
    by_project: UsageReport
    by_model: UsageReport
    prices: list[ModelPrice]
    budgets: list[BudgetStatus]
    previous_month: date
    next_month: date | None
    unconfirmed: Unconfirmed = field(default_factory=Unconfirmed)

    @property
    def total(self) -> Usage:
        return self.by_user.total


def usage_statement(*, team: Team, month: date) -> Statement:
    """The monthly statement of a team: totals by user, project and model from one rollup
    query, the prices charged in the month, and the team's budgets."""
    first = month_start(month)
    last = next_month_start(first) - timedelta(days=1)
    buckets = list(
        _team_range(team.id, first, last)
        .values("user_id", "user__username", "project_id", "project__name", "model")
        .annotate(**sums()).order_by()
    )
    reports = {}
    for group_by in ("user", "project", "model"):
        grouped: dict[object, Usage] = {}
        for row in buckets:
            key, label = _group_key_label(group_by, row)
            grouped.setdefault(key, Usage(key=key, label=label)).add(Usage.from_row(row))
        rows = sorted(grouped.values(), key=lambda usage: usage.label)
        total = Usage(label=str(_("Total")))
        for usage in rows:
            total.add(usage)
        reports[group_by] = UsageReport(team=team, since=first, until=last, group_by=group_by,
                                        rows=rows, total=total)
    today = timezone.localdate()
    return Statement(
        team=team,
        month=first,
        until=last,
        by_user=reports["user"],
        by_project=reports["project"],
        by_model=reports["model"],
        prices=_prices_in_month(first, last, {row["model"] for row in buckets}),
        budgets=budget_statuses(team_id=team.id, user_id=None, day=first),
        previous_month=month_start(first - timedelta(days=1)),
        next_month=next_month_start(first) if next_month_start(first) <= today else None,
        unconfirmed=unconfirmed_calls(since=first, until=last, team_id=team.id),
    )


def _prices_in_month(first: date, last: date, models: set[str]) -> list[ModelPrice]:
    """For each model used: the price in force on the 1st and those that took effect later."""
    start = local_midnight(first)
    in_force_at_start: set[str] = set()
    prices = []
    for price in ModelPrice.objects.filter(
        model__in=models, effective_from__lt=local_midnight(last + timedelta(days=1))
    ).order_by("model", "-effective_from"):
        if price.model in in_force_at_start:
            continue  # superseded before the month began
        prices.append(price)
        if price.effective_from <= start:
            in_force_at_start.add(price.model)
    return sorted(prices, key=lambda price: (price.model, price.effective_from))


# CSV (web export and `usage_report --format csv`) -------------------------------------------

CSV_COLUMNS = (
    ("calls", _("Calls")), ("ok_calls", _("Succeeded")),
    ("moderation_calls", _("Moderation rejections")), ("failed_calls", _("Failed")),
    ("prompt_tokens", _("Input tokens")), ("completion_tokens", _("Output tokens")),
    ("cost", _("Cost (¥)")), ("waste_cost", _("Waste (¥)")),
    ("unpriced_calls", _("Unpriced calls")), ("accepted_records", _("Accepted records")),
    ("cost_per_accepted", _("¥ per accepted record")),
)
DETAIL_COLUMNS = (("day", _("Day")), ("user__username", _("User")),
                  ("project__name", _("Project")), ("model", _("Model")))


def _csv_values(usage: Usage) -> list:
    """Exact ¥ (6 places, as in the ledger) so a spreadsheet's sum equals the total row; an
    all-unpriced row has no ¥ at all rather than a misleading 0."""
    values = []
    for name, _header in CSV_COLUMNS:
        value = getattr(usage, name)
        if name in MONEY_FIELDS:
            value = "" if usage.all_unpriced else exact(value)
        elif name == "cost_per_accepted":
            value = "" if value is None else exact(value)
        values.append(value)
    return values


def _unconfirmed_csv(label: str, unconfirmed: Unconfirmed, lead: int) -> list:
    """The row after the total: unconfirmed calls, in no total above, at most this much."""
    values = {"calls": unconfirmed.calls, "cost": exact(unconfirmed.at_most),
              "unpriced_calls": unconfirmed.unpriced}
    return [label] + [""] * lead + [values.get(name, "") for name, _header in CSV_COLUMNS]


def usage_csv_rows(*, team: Team, since: date, until: date, group_by: str) -> Iterator[list]:
    """Header, rows and a total row. Headers are translated now, in the caller's language;
    the rows are produced while the response streams. `group_by="detail"` streams every rollup
    row (day × user × project × model) without holding them in memory."""
    values_header = [str(header) for _name, header in CSV_COLUMNS]
    labels = (str(_("Total")),
              str(_("Unconfirmed calls (in no total above; cost is the most they can have "
                    "cost)")))
    unconfirmed = unconfirmed_calls(since=since, until=until, team_id=team.id)
    if group_by == "detail":
        header = [str(header) for _name, header in DETAIL_COLUMNS] + values_header
        return _detail_csv(header, labels, unconfirmed,
                           usage_detail_rows(team=team, since=since, until=until))
    report = usage_report(team=team, since=since, until=until, group_by=group_by)
    return _grouped_csv([report.group_label] + values_header, labels, report)


def _grouped_csv(header: list, labels: tuple, report: UsageReport) -> Iterator[list]:
    yield header
    for usage in report.rows:
        yield [usage.label] + _csv_values(usage)
    yield [labels[0]] + _csv_values(report.total)
    if report.unconfirmed.calls:
        yield _unconfirmed_csv(labels[1], report.unconfirmed, 0)


def _detail_csv(header: list, labels: tuple, unconfirmed: Unconfirmed,
                rows: Iterator[dict]) -> Iterator[list]:
    yield header
    total = Usage()
    for row in rows:
        usage = Usage.from_row(row)
        total.add(usage)
        yield [row[name] for name, _header in DETAIL_COLUMNS] + _csv_values(usage)
    yield [labels[0], "", "", ""] + _csv_values(total)
    if unconfirmed.calls:
        yield _unconfirmed_csv(labels[1], unconfirmed, 3)


# The JSON API's usage ------------------------------------------------------------------------


def usage_for_user(*, user: User, since: date, until: date) -> dict:
    """The caller's own calls, tokens and ¥ cost between two local days (inclusive), from the
    daily rollup. Unpriced calls are counted, never priced at ¥0 silently."""
    totals = DailyUsage.objects.filter(user=user, day__gte=since, day__lte=until).aggregate(
        calls=Sum("calls"), prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"), cost=Sum("cost"),
        unpriced_calls=Sum("unpriced_calls"),
    )
    unconfirmed = unconfirmed_calls(since=since, until=until, user_id=user.id)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "calls": totals["calls"] or 0,
        "prompt_tokens": totals["prompt_tokens"] or 0,
        "completion_tokens": totals["completion_tokens"] or 0,
        "cost_rmb": exact(totals["cost"]),
        "cost_display": f"¥{yuan(totals['cost'])}",
        "unpriced_calls": totals["unpriced_calls"] or 0,
        # Calls whose answer was lost with their worker, not in the figures above until
        # reconciliation settles them: at most this much.
        "unconfirmed_calls": unconfirmed.calls,
        "unconfirmed_at_most_rmb": exact(unconfirmed.at_most),
    }
