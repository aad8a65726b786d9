import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Team
from grokweb.csvexport import csv_lines
from prompts.usage.periods import month_start
from prompts.usage.reports import Usage, usage_csv_rows, usage_report


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


def _as_json(usage: Usage) -> dict:
    return {
        "label": usage.label, "calls": usage.calls, "ok_calls": usage.ok_calls,
        "moderation_calls": usage.moderation_calls, "failed_calls": usage.failed_calls,
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "cost": None if usage.all_unpriced else str(usage.cost),
        "waste_cost": None if usage.all_unpriced else str(usage.waste_cost),
        "unpriced_calls": usage.unpriced_calls,
    }


class Command(BaseCommand):
    help = (
        "A team's usage and ¥ cost between two local days (inclusive), grouped by user, project, "
        "model or day: the same numbers as the report page and its CSV. ¥ are exact (6 places)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team name")
        parser.add_argument("--since", type=_day, help="first day (default: 1st of this month)")
        parser.add_argument("--until", type=_day, help="last day, inclusive (default: today)")
        parser.add_argument("--group-by", choices=["user", "project", "model", "day"],
                            default="user")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, **opts):
        team = Team.objects.filter(name=opts["team"]).first()
        if team is None:
            raise CommandError(f"No team named {opts['team']!r}.")
        until = opts["until"] or timezone.localdate()
        since = opts["since"] or month_start(until)
        if until < since:
            raise CommandError("--until is before --since.")
        if opts["format"] == "json":
            report = usage_report(team=team, since=since, until=until,
                                  group_by=opts["group_by"])
            self.stdout.write(json.dumps({
                "team": team.name, "since": since.isoformat(), "until": until.isoformat(),
                "group_by": report.group_by, "rows": [_as_json(row) for row in report.rows],
                "total": _as_json(report.total),
            }, ensure_ascii=False, indent=2))
            return
        rows = usage_csv_rows(team=team, since=since, until=until, group_by=opts["group_by"])
        for line in csv_lines(rows, bom=False):
            self.stdout.write(line, ending="")
