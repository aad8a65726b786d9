"""Race-free budgets: a job's maximum cost is reserved against its user's and its team's
monthly budget before its call is sent, and settled at the real cost when the answer comes.

What "used" means is one thing everywhere: spending this month (the rollup) plus the
maximum cost of the month's open calls (in flight, or unknown until reconciliation settles
them), as `spent_in_month` computes it. A reservation is the write-ahead ledger row itself:
`open_attempt` (the worker's claim and `ledger_open`) runs only once the room is checked.

- With REDIS_URL, one Lua script checks and reserves for every budget that applies, so two
  workers can never both take the last room. Redis keeps "used" per budget and month, built
  from the database when missing and rebuilt at least every BUDGET_REDIS_TTL_S; every later
  change of an open call (completed, settled by reconciliation) adjusts it by the difference.
- Without Redis, the budgets' rows are locked (SELECT … FOR UPDATE on PostgreSQL; SQLite's
  IMMEDIATE transactions lock the database) while "used" is read and the attempt is opened.

An unpriced model has no maximum: its calls reserve ¥0 and run while the budget is not used up
(unpriced calls are shown loudly, never counted as ¥0 silently). A lost worker's call
(unknown) stays reserved at its maximum until reconciliation settles it with the gateway's
numbers; failures and cancellations hold nothing once their row is completed.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Budget
from prompts.models import GatewayCall
from prompts.usage.budgets import spent_in_month
from prompts.usage.periods import month_start

logger = logging.getLogger(__name__)

MICRO = Decimal(1_000_000)
KEY_PREFIX = "grokweb:budget"


@dataclass(frozen=True)
class BudgetLimits:
    """The monthly budgets that apply to one user's jobs in one team: each one's id and
    limit (None: no such budget)."""

    team_id: int
    user_id: int
    team_budget_id: int | None = None
    team_limit: Decimal | None = None
    user_budget_id: int | None = None
    user_limit: Decimal | None = None

    @property
    def any(self) -> bool:
        return self.team_limit is not None or self.user_limit is not None

    def keys(self, month: date) -> list[str]:
        return budget_keys([self.team_budget_id, self.user_budget_id], month)


@dataclass(frozen=True)
class Reservation:
    """The outcome: `opened` is what `open_attempt` returned when the room was there and the
    attempt was opened; otherwise `refused_by` names the budget ("team" or "user") that has
    less room than `amount`, or `retry_s` says to come back (Redis could not be asked)."""

    opened: object | None
    amount: Decimal
    refused_by: str = ""
    room: Decimal | None = None
    retry_s: float = 0.0
    redis_keys: tuple[str, ...] = ()  # held in Redis too, under these keys: settle there


def _micro(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)) * MICRO)


def _fits(used: Decimal, amount: Decimal, limit: Decimal) -> bool:
    return used < limit and used + amount <= limit


# --- Redis ----------------------------------------------------------------------------------

# KEYS: the team budget's and the user budget's "used" (µ¥). ARGV: amount µ¥, team limit µ¥,
# user limit µ¥ (-1: no such budget). Returns {1} when reserved, {0, i, used} when budget i
# has no room, {-1, i} when key i must first be built from the database.
RESERVE_LUA = """
local amount = tonumber(ARGV[1])
for i = 1, 2 do
  local limit = tonumber(ARGV[i + 1])
  if limit >= 0 then
    local used = redis.call('GET', KEYS[i])
    if not used then return {-1, i} end
    used = tonumber(used)
    if used >= limit or used + amount > limit then return {0, i, used} end
  end
end
for i = 1, 2 do
  if tonumber(ARGV[i + 1]) >= 0 then redis.call('INCRBY', KEYS[i], amount) end
end
return {1}
"""

# KEYS: "used" keys. ARGV: the change in µ¥. A missing key is rebuilt from the database
# when next needed, so it is left missing.
ADJUST_LUA = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[1]) end
end
return 1
"""


class _Redis:
    def __init__(self, url: str) -> None:
        import redis

        self.errors = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.reserve = self.client.register_script(RESERVE_LUA)
        self.adjust = self.client.register_script(ADJUST_LUA)


@lru_cache(maxsize=4)
def _redis_for(url: str) -> _Redis:
    return _Redis(url)


def budget_keys(budget_ids: list[int | None], month: date) -> list[str]:
    """The Redis keys of budgets' "used" in a month. Named by the budget, not its team or
    user: a budget removed and set again starts from the database, not from a key nobody
    kept up meanwhile (changing a limit keeps the key: "used" does not depend on it)."""
    stamp = f"{month:%Y-%m}"
    return [f"{KEY_PREFIX}:{budget_id or 0}:{stamp}" for budget_id in budget_ids]


def _reserve_redis(limits: BudgetLimits, amount: Decimal, month: date,
                   open_attempt: Callable[[], object | None]) -> Reservation:
    backend = _redis_for(settings.REDIS_URL)
    keys = limits.keys(month)
    args = [_micro(amount), _micro(limits.team_limit) if limits.team_limit is not None else -1,
            _micro(limits.user_limit) if limits.user_limit is not None else -1]
    try:
        answer = backend.reserve(keys=keys, args=args)
        if answer[0] == -1:
            _build_keys(backend, keys, limits, month)
            answer = backend.reserve(keys=keys, args=args)
    except backend.errors:
        logger.warning("budget reservations unreachable in Redis: job deferred", exc_info=True)
        return Reservation(opened=None, amount=amount, retry_s=5.0)
    if answer[0] == -1:  # gone again at once (a flush): ask again shortly
        return Reservation(opened=None, amount=amount, retry_s=1.0)
    if answer[0] != 1:
        scope = "team" if int(answer[1]) == 1 else "user"
        limit = limits.team_limit if scope == "team" else limits.user_limit
        used = Decimal(int(answer[2])) / MICRO if len(answer) > 2 else limit
        return Reservation(opened=None, amount=amount, refused_by=scope,
                           room=max(limit - used, Decimal(0)))
    try:
        opened = open_attempt()
    except BaseException:
        _adjust(keys, -_micro(amount))
        raise
    if opened is None:  # not ours after all (another delivery claimed it): give the room back
        _adjust(keys, -_micro(amount))
    held = tuple(key for key, limit in zip(keys, (limits.team_limit, limits.user_limit),
                                           strict=True) if limit is not None)
    return Reservation(opened=opened, amount=amount, redis_keys=held)


def _build_keys(backend: _Redis, keys: list[str], limits: BudgetLimits, month: date) -> None:
    """Missing "used" keys from the database (spent + open calls), each set only if still
    missing: a key another worker built meanwhile already holds its reservations."""
    spend = spent_in_month(team_id=limits.team_id, day=month)
    pipe = backend.client.pipeline(transaction=False)
    for key, limit, user_id in zip(keys, (limits.team_limit, limits.user_limit),
                                   (None, limits.user_id), strict=True):
        if limit is not None:
            pipe.set(key, _micro(spend.used_of(user_id)), nx=True,
                     ex=settings.BUDGET_REDIS_TTL_S)
    pipe.execute()


def _adjust(keys: list[str], micro: int) -> None:
    if not micro:
        return
    backend = _redis_for(settings.REDIS_URL)
    try:
        backend.adjust(keys=keys, args=[micro])
    except backend.errors:
        # The keys expire within BUDGET_REDIS_TTL_S and are rebuilt from the database.
        logger.warning("budget reservations unreachable in Redis: not adjusted", exc_info=True)


# --- The database ----------------------------------------------------------------------------


def _reserve_locked(limits: BudgetLimits, amount: Decimal, month: date,
                    open_attempt: Callable[[], object | None]) -> Reservation:
    with transaction.atomic():
        # Locked in one order (by id), so two workers can never wait on each other.
        budgets = list(Budget.objects.select_for_update().filter(
            Q(user__isnull=True) | Q(user_id=limits.user_id), team_id=limits.team_id)
            .order_by("pk"))
        spend = spent_in_month(team_id=limits.team_id, day=month)
        for budget in sorted(budgets, key=lambda b: b.user_id is not None):
            used = spend.used_of(budget.user_id)
            if not _fits(used, amount, budget.monthly_limit):
                return Reservation(opened=None, amount=amount,
                                   refused_by="team" if budget.user_id is None else "user",
                                   room=max(budget.monthly_limit - used, Decimal(0)))
        return Reservation(opened=open_attempt(), amount=amount)


# --- The service ----------------------------------------------------------------------------


def budget_reserve(*, limits: BudgetLimits, amount: Decimal | None,
                   open_attempt: Callable[[], object | None]) -> Reservation:
    """Reserve `amount` (the attempt's maximum cost; None: unpriced, reserves ¥0) against
    every budget in `limits`, and open the attempt with `open_attempt` only if it fits.

    `open_attempt` claims the job and writes its in-flight ledger row (the reservation the
    database sees); it returns None when the job was not ours to claim, and what it returns
    is handed back as `opened`."""
    amount = amount or Decimal("0.000000")
    month = month_start(timezone.localdate())
    if settings.REDIS_URL:
        return _reserve_redis(limits, amount, month, open_attempt)
    return _reserve_locked(limits, amount, month, open_attempt)


def budget_settle(*, call: GatewayCall, before: Decimal | None,
                  keys: tuple[str, ...] | None = None) -> None:
    """A held call now costs what its completed row says instead of `before` (its maximum
    cost): answered, or settled by reconciliation. Redis's "used" of the budgets that held
    it follows (`keys` from its reservation; else those of its team's and user's budgets of
    the call's month). The database needs nothing: the row is the truth."""
    if not settings.REDIS_URL:
        return
    change = _micro(call.cost) - _micro(before)
    if keys is None:
        month = month_start(timezone.localdate(call.started_at))
        ids = list(Budget.objects.filter(Q(user__isnull=True) | Q(user_id=call.user_id),
                                         team_id=call.team_id).values_list("id", flat=True))
        keys = tuple(budget_keys(ids, month))
    if keys:
        _adjust(list(keys), change)


def budget_forget() -> None:
    """Drop every budget's Redis "used": the next reservations rebuild them from the
    database. After anything changes what the month's calls cost other than through
    `budget_settle` (calls re-priced)."""
    if not settings.REDIS_URL:
        return
    backend = _redis_for(settings.REDIS_URL)
    pattern = f"{KEY_PREFIX}:*"
    try:
        keys = list(backend.client.scan_iter(match=pattern, count=500))
        if keys:
            backend.client.delete(*keys)
    except backend.errors:
        logger.warning("budget reservations unreachable in Redis: keys not dropped",
                       exc_info=True)
