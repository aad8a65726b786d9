"""Reads for the admin console: the audit log, users and teams."""

import json
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.console.audit_text import (
    audit_action_label,
    audit_field,
    audit_sentence,
    audit_value,
)
from accounts.models import AuditEvent, Membership, Team, User


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
    """Attach `sentence` (what happened, in words) and `changes` to each event: (field, before,
    after) rows in readable names and values, the changed fields of an update only, so the
    page reads "status: Standby → Active" instead of raw JSON."""
    for event in events:
        before, after = event.before or {}, event.after or {}
        fields = list(dict.fromkeys([*after, *before]))
        event.sentence = audit_sentence(event)
        event.changes = [
            (audit_field(name, event.action),
             audit_value(name, before[name]) if name in before else "",
             audit_value(name, after[name]) if name in after else "")
            for name in fields
            if not (event.before is not None and before.get(name) == after.get(name))
            and (before.get(name) not in (None, "") or after.get(name) not in (None, ""))
        ]


def audit_actions() -> list[tuple[str, str]]:
    """(code, label) of every action on record, for the filter."""
    codes = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
    return sorted(((code, audit_action_label(code)) for code in codes), key=lambda a: a[1])


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
