"""One entry of the gateway's usage log, from the log's JSON or a file's row, validated.

Used by usage_log for both the pulled log and exported files: the same fields mean the
same thing wherever they come from, and a bad value names where it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

CONSUMPTION = 2
_WHOLE = re.compile(r"^[+-]?\d+$")
_UNIX_SECONDS = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class UsageLogEntry:
    """One consumption entry of the gateway's log: what the gateway billed for one call."""

    gateway_id: str  # not unique: one-api omits it, new-api shows it modulo 1024
    created_at: datetime  # aware, UTC; when the gateway wrote the entry, i.e. the call's end
    model: str
    prompt_tokens: int
    completion_tokens: int
    quota: int | None  # the gateway's own units; see quota_to_yuan
    cost: Decimal | None  # ¥, only when a file gives it
    request_id: str
    token_name: str


class UsageLogError(Exception):
    """The log could not be read; the message is plain English for the operator."""


def numbered(items: list, label: str) -> Iterator[tuple[str, object]]:
    """(where, item) pairs: "item 1", "item 2", ..."""
    return ((f"{label} {number}", item) for number, item in enumerate(items, start=1))


def consumption_entries(
    items: Iterable[tuple[str, object]], default_tz: tzinfo
) -> Iterator[UsageLogEntry]:
    """Consumption entries from (where, item) pairs; other log types are skipped."""
    for where, item in items:
        if not isinstance(item, dict):
            raise UsageLogError(f"{where}: is not an object")
        kind = item.get("type")
        if kind not in (None, "") and _whole(kind, "type", where) != CONSUMPTION:
            continue
        yield _entry(item, where, default_tz)


def _entry(item: dict, where: str, default_tz: tzinfo) -> UsageLogEntry:
    model = _text(item.get("model_name"))
    if not model:
        raise UsageLogError(f"{where}: model_name is missing")
    quota = item.get("quota")
    return UsageLogEntry(
        gateway_id=_text(item.get("id")),
        created_at=_moment(item.get("created_at"), where, default_tz),
        model=model,
        prompt_tokens=_count(item.get("prompt_tokens"), "prompt_tokens", where),
        completion_tokens=_count(item.get("completion_tokens"), "completion_tokens", where),
        quota=None if quota in (None, "") else _whole(quota, "quota", where),
        cost=_cost(item.get("cost"), where),
        request_id=_text(item.get("request_id")),
        token_name=_text(item.get("token_name")),
    )


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _whole(value, field: str, where: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UsageLogError(f"{where}: {field} is missing")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE.match(value.strip()):
        return int(value.strip())
    raise UsageLogError(f"{where}: {field} is not a whole number")


def _count(value, field: str, where: str) -> int:
    number = _whole(value, field, where)
    if number < 0:
        raise UsageLogError(f"{where}: {field} is negative")
    return number


def _cost(value, where: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UsageLogError(f"{where}: cost is not a number")
    try:
        cost = Decimal(str(value).strip())
    except InvalidOperation:
        raise UsageLogError(f"{where}: cost is not a number") from None
    if not cost.is_finite():
        raise UsageLogError(f"{where}: cost is not a finite number")
    return cost


def _moment(value, where: str, default_tz: tzinfo) -> datetime:
    if isinstance(value, str) and _UNIX_SECONDS.match(value.strip()):
        value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 < value < 32_503_680_000:  # before year 3000: a millisecond stamp is refused
            raise UsageLogError(f"{where}: created_at is not a time in unix seconds")
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageLogError(
                f"{where}: created_at is neither unix seconds nor ISO 8601"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=default_tz)
        return moment.astimezone(UTC)
    raise UsageLogError(f"{where}: created_at is missing")
