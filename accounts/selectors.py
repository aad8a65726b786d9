"""Reads for the admin console, the token settings page and the JSON API."""

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import Case, IntegerField, Max, Prefetch, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent, GatewayKey, Membership, Team, User

STATUS_ORDER = ["active", "standby", "retiring", "failing", "retired", "revoked"]


def gateway_keys_for_console() -> QuerySet[GatewayKey]:
    """Every key, the one in use first; `last_used` is the start of its latest attempt."""
    return (
        GatewayKey.objects.select_related("added_by")
        .annotate(
            last_call_at=Max("calls__started_at"),
            status_rank=Case(*[When(status=s, then=Value(i)) for i, s in enumerate(STATUS_ORDER)],
                             output_field=IntegerField()),
        )
        .annotate(last_used=Coalesce("last_call_at", "last_used_at"))
        .order_by("status_rank", "-created_at")
    )


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.actor:
        events = events.filter(actor__username=filters.actor)
    if filters.since:
        events = events.filter(created_at__gte=_day_start(filters.since))
    if filters.until:
        events = events.filter(created_at__lt=_day_start(filters.until) + timezone.timedelta(days=1))
    return events.order_by("-created_at", "-id")


def audit_changes(events) -> None:
    """Attach `changes` to each event: (field, before, after) rows, the changed fields of an
    update first-class, so the page reads "status: standby → active" instead of raw JSON."""
    for event in events:
        before, after = event.before or {}, event.after or {}
        fields = list(dict.fromkeys([*after, *before]))
        event.changes = [
            (name, _show(before[name]) if name in before else "",
             _show(after[name]) if name in after else "")
            for name in fields
            if not (event.before is not None and before.get(name) == after.get(name))
        ]


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


def audit_rows_for_csv(filters: AuditFilters, header: list[str]):
    """The CSV export: a header row, then one row per event (all pages), in local time."""
    yield header
    for event in audit_events(filters).iterator(chunk_size=500):
        yield [
            timezone.localtime(event.created_at).isoformat(timespec="seconds"),
            event.actor.username if event.actor else "",
            event.action, event.target_type, event.target_id, event.target_repr,
            event.ip_address or "",
            json.dumps(event.before, ensure_ascii=False) if event.before is not None else "",
            json.dumps(event.after, ensure_ascii=False) if event.after is not None else "",
        ]


def teams_for_console() -> QuerySet[Team]:
    return Team.objects.order_by("name")


def users_for_console() -> QuerySet[User]:
    return User.objects.order_by("username").prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("team")
                 .order_by("team__name"))
    )


def api_tokens_for_user(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def usage_for_user(*, user: User, since: date, until: date) -> dict:
    """The caller's own calls, tokens and ¥ cost between two local days (inclusive), from the
    daily rollup. Unpriced calls are counted, never priced at ¥0 silently."""
    from prompts.models import DailyUsage

    totals = DailyUsage.objects.filter(user=user, day__gte=since, day__lte=until).aggregate(
        calls=Sum("calls"), prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"), cost=Sum("cost"),
        unpriced_calls=Sum("unpriced_calls"),
    )
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "calls": totals["calls"] or 0,
        "prompt_tokens": totals["prompt_tokens"] or 0,
        "completion_tokens": totals["completion_tokens"] or 0,
        "cost_rmb": str((totals["cost"] or Decimal(0)).quantize(Decimal("0.000001"))),
        "unpriced_calls": totals["unpriced_calls"] or 0,
    }
