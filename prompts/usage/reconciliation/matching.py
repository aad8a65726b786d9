"""Match ledger rows to the gateway's log entries, one to one, in a single sweep over time.

Who is paired with whom, most trusted first:
1. request id: the entry's request_id is the row's client request id (we send it as
   X-Request-Id) or the gateway request id the row stored;
2. model and exact token counts, nearest in time within `window`;
3. model and time alone ("token drift": the same call counted differently), within `window`,
   only where one count agrees and the other differs by at most half (or 100 tokens), or
   the row has no counts (a failed or unknown attempt the gateway billed anyway): unrelated
   calls of one model are always near each other on a busy day. Rows whose counts fit go
   first, then the fewest tokens apart, then the nearest in time; an entry goes to a later
   row instead when that row fits it better and wants it most.
"Nearest" ranks an entry stamped before the call started (beyond the log's whole seconds)
after every entry stamped later: the gateway writes its entry when the call ends.

What the caller must honour:
- both inputs sorted by time: rows by started_at, entries by created_at (aware datetimes);
  UnsortedInputError otherwise. fetch_usage_log and parse_usage_log_file return that order.
- `window` covers a call's whole length plus the clock skew between us and the gateway: the
  gateway stamps its entry when the call ends, we stamp the row before the request.
- an id match is found only when row and entry are within `id_window` of each other, and
  time matching waits for it: a row is decided once both inputs have passed its time by
  id_window + 3 x window (an entry: + 4 x window). Memory is what arrives in that span,
  plus the discrepancies found.
- read the ledger for [since, until) and the log for [since, until + window): the log
  stamps a call when it ends. A call straddling `since` still shows as one-sided.

Unknown and in-flight rows have no counts we trust: they pair by id or by model and time.
A paired unknown row is a settlement (the caller may settle it with the gateway's numbers);
a paired in-flight row is reported as gateway-only with its call id, since its worker may
still finish it. Totals do not depend on any of the pairing.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from decimal import Decimal
from itertools import takewhile
from operator import attrgetter, itemgetter

from prompts.gateway.usage_log import UsageLogEntry

from .report import (
    COMPLETED,
    IN_FLIGHT,
    UNKNOWN,
    DriftPair,
    GatewayOnly,
    LedgerSide,
    Reconciliation,
    Settlement,
    yuan,
)

__all__ = ["LedgerSide", "Reconciliation", "Settlement", "UnsortedInputError", "reconcile"]

Price = Callable[[UsageLogEntry], Decimal | None]
STATES = frozenset({COMPLETED, UNKNOWN, IN_FLIGHT})
NEVER = float("inf")
STAMP_ROUNDING_S = 1.0  # the log keeps whole seconds
BEFORE_START = 1e9  # ranks an entry stamped before its call after any window
DRIFT_TOKENS = 100  # a count may drift this far, or by half, whichever is more


class UnsortedInputError(ValueError):
    """An input is not in time order, so the sweep would miss pairs."""


def reconcile(
    ledger: Iterable[LedgerSide],
    gateway: Iterable[UsageLogEntry],
    *,
    price: Price,
    window: timedelta = timedelta(seconds=120),
    id_window: timedelta = timedelta(minutes=15),
) -> Reconciliation:
    """Pair every row with at most one entry and report what stays unpaired.

    `price(entry)` is the gateway's ¥ for an entry (its quota converted, or our price book
    applied to its counts); None means unpriced.
    """
    if not timedelta(0) < window <= id_window:
        raise ValueError("window must be positive and no longer than id_window")
    sweep = _Sweep(price, window.total_seconds(), id_window.total_seconds())
    rows = _in_time_order(ledger, "ledger rows", attrgetter("started_at"))
    entries = _in_time_order(gateway, "log entries", attrgetter("created_at"))
    row, entry = next(rows, None), next(entries, None)
    while row is not None or entry is not None:
        if entry is None or (row is not None and row[0] <= entry[0]):
            sweep.add_row(*row)
            row = next(rows, None)
        else:
            sweep.add_entry(*entry)
            entry = next(entries, None)
        # Everything before the older of the two next times has been read on both sides.
        sweep.advance(min(NEVER if row is None else row[0], NEVER if entry is None else entry[0]))
    sweep.advance(NEVER)
    return sweep.finish()


def _in_time_order(items: Iterable, what: str, moment: Callable) -> Iterator[tuple[float, object]]:
    last = -NEVER
    for item in items:
        when = moment(item)
        if when.tzinfo is None:
            raise ValueError(f"{what} need aware datetimes, got {when.isoformat()}")
        seconds = when.timestamp()
        if seconds < last:
            raise UnsortedInputError(
                f"{what} must be sorted by time: {when.isoformat()} comes after a later one"
            )
        last = seconds
        yield seconds, item


class _Pending:
    """A row or an entry waiting for its partner."""

    __slots__ = ("cost", "done", "item", "key", "t")

    def __init__(self, t: float, item, cost: Decimal | None) -> None:
        self.t, self.item, self.cost, self.done = t, item, cost, False
        self.key = (item.model, item.prompt_tokens, item.completion_tokens)


class _Sweep:
    """The state between the two inputs' reading positions.

    Four queues, each in time order, hold what waits for a decision; an item is decided when
    both inputs have passed its time by the queue's lag (see the module docstring):
    rows for an exact match (lag id_window + window), entries leaving exact matching
    (+2 windows), rows for a drift match (+3), entries left unbilled (+4).
    Within one advance the queues are drained in that order, which keeps every decision
    after the ones it depends on.
    """

    def __init__(self, price: Price, window: float, id_window: float) -> None:
        self.price, self.window = price, window
        self.lags = tuple(id_window + n * window for n in (1, 2, 3, 4))
        self.result = Reconciliation()
        self.rows_by_id: dict[str, _Pending] = {}
        self.entries_by_id: dict[str, _Pending] = {}
        self.entries_by_counts: dict[tuple, deque[_Pending]] = {}
        self.spare_rows: defaultdict[str, deque[_Pending]] = defaultdict(deque)
        self.spare_entries: defaultdict[str, deque[_Pending]] = defaultdict(deque)
        self.exact_due: deque[_Pending] = deque()
        self.expiry_due: deque[_Pending] = deque()
        self.drift_due: deque[_Pending] = deque()
        self.final_due: deque[_Pending] = deque()

    # Reading ----------------------------------------------------------------------------

    def add_row(self, t: float, row: LedgerSide) -> None:
        if row.state not in STATES:
            raise ValueError(f"call {row.call_id}: unknown state {row.state!r}")
        if row.cost is not None:
            self.result.yuan_ledger += row.cost
        elif row.state == COMPLETED:
            self.result.unpriced_ledger += 1
        pending = _Pending(t, row, row.cost)
        self.exact_due.append(pending)
        ids = [rid for rid in (row.client_request_id, row.gateway_request_id) if rid]
        for rid in ids:
            entry = self.entries_by_id.get(rid)
            if entry is not None and not entry.done:
                self._pair(pending, entry, by_id=True)
                return
        for rid in ids:
            self.rows_by_id.setdefault(rid, pending)

    def add_entry(self, t: float, entry: UsageLogEntry) -> None:
        cost = self.price(entry)
        if cost is None:
            self.result.unpriced_gateway += 1
        else:
            self.result.yuan_gateway += cost
        pending = _Pending(t, entry, cost)
        self.expiry_due.append(pending)
        if entry.request_id:
            row = self.rows_by_id.get(entry.request_id)
            if row is not None and not row.done:
                self._pair(row, pending, by_id=True)
                return
            self.entries_by_id.setdefault(entry.request_id, pending)
        queue = self.entries_by_counts.get(pending.key)
        if queue is None:
            queue = self.entries_by_counts[pending.key] = deque()
        queue.append(pending)

    # Deciding ---------------------------------------------------------------------------

    def advance(self, frontier: float) -> None:
        exact_lag, expiry_lag, drift_lag, final_lag = self.lags
        queue = self.exact_due
        while queue and queue[0].t + exact_lag < frontier:
            self._decide_exact(queue.popleft())
        queue = self.expiry_due
        while queue and queue[0].t + expiry_lag < frontier:
            self._expire(queue.popleft())
        queue = self.drift_due
        while queue and queue[0].t + drift_lag < frontier:
            self._decide_drift(queue.popleft())
        queue = self.final_due
        while queue and queue[0].t + final_lag < frontier:
            self._finalise(queue.popleft())

    def _decide_exact(self, pending: _Pending) -> None:
        row = pending.item
        for rid in (row.client_request_id, row.gateway_request_id):
            if rid and self.rows_by_id.get(rid) is pending:
                del self.rows_by_id[rid]
        if pending.done:
            return
        if row.state == COMPLETED:
            entry = self._closest_same_counts(pending)
            if entry is not None:
                self._pair(pending, entry)
                return
        self.drift_due.append(pending)
        self.spare_rows[row.model].append(pending)

    def _closest_same_counts(self, row: _Pending) -> _Pending | None:
        queue = self.entries_by_counts.get(row.key)
        if not queue:
            return None
        # Rows come in time order, so what is too old for this row is too old for all later.
        while queue and (queue[0].done or queue[0].t < row.t - self.window):
            queue.popleft()
        best = None
        for entry in queue:
            if entry.t > row.t + self.window:
                break
            if not entry.done and (best is None or _apart(row, entry) < _apart(row, best)):
                best = entry
        if not queue:
            del self.entries_by_counts[row.key]
        return best

    def _expire(self, pending: _Pending) -> None:
        entry = pending.item
        if entry.request_id and self.entries_by_id.get(entry.request_id) is pending:
            del self.entries_by_id[entry.request_id]
        queue = self.entries_by_counts.get(pending.key)
        if queue and queue[0] is pending:
            queue.popleft()
            if not queue:
                del self.entries_by_counts[pending.key]
        if not pending.done:
            self.final_due.append(pending)
            self.spare_entries[entry.model].append(pending)

    def _decide_drift(self, pending: _Pending) -> None:
        rivals = self.spare_rows[pending.item.model]
        if rivals and rivals[0] is pending:
            rivals.popleft()
        entry = self._drift_partner(pending, self.spare_entries[pending.item.model], rivals)
        if entry is not None:
            self._pair(pending, entry)
        elif _is_unbilled_failure(pending.item):
            self.result.unbilled_failures += 1
        else:
            self.result.ledger_only.append(pending.item)

    def _drift_partner(self, row: _Pending, entries: deque, rivals: deque) -> _Pending | None:
        """The entry `row` claims best, unless a later undecided row claims it better."""
        while entries and (entries[0].done or entries[0].t < row.t - self.window):
            entries.popleft()
        for claim, entry in self._claims(row, entries):
            if not self._claimed_by_rival(claim, entry, entries, rivals):
                return entry
        return None

    def _claims(self, row: _Pending, entries: deque) -> list[tuple[tuple, _Pending]]:
        """(claim, entry) for the undecided entries near `row` that could be its call, best first."""
        low, high = row.t - self.window, row.t + self.window
        claims = []
        for entry in takewhile(lambda entry: entry.t <= high, entries):
            if not entry.done and entry.t >= low:
                claim = _claim(row, entry)
                if claim is not None:
                    claims.append((claim, entry))
        claims.sort(key=itemgetter(0))
        return claims

    def _claimed_by_rival(self, claim: tuple, entry: _Pending, entries, rivals) -> bool:
        """Does a later undecided row claim `entry` better than `claim`, as its best choice?"""
        for rival in rivals:  # in time order
            if rival.t > entry.t + self.window:
                return False
            theirs = _claim(rival, entry)
            if (
                theirs is not None
                and theirs < claim
                and self._claims(rival, entries)[0][1] is entry
            ):
                return True
        return False

    def _finalise(self, pending: _Pending) -> None:
        entries = self.spare_entries[pending.item.model]
        if entries and entries[0] is pending:
            entries.popleft()
        if not pending.done:
            self.result.gateway_only.append(GatewayOnly(pending.item, pending.cost))

    def _pair(self, row_pending: _Pending, entry_pending: _Pending, *, by_id: bool = False) -> None:
        row_pending.done = entry_pending.done = True
        row, entry, result = row_pending.item, entry_pending.item, self.result
        if row.state == UNKNOWN:
            result.settlements.append(Settlement(row.call_id, entry, by_id))
        elif row.state == IN_FLIGHT:
            result.gateway_only.append(GatewayOnly(entry, entry_pending.cost, row.call_id))
        elif row_pending.key == entry_pending.key:
            result.matched += 1
            result.matched_yuan_ledger += row.cost or 0
            result.matched_yuan_gateway += entry_pending.cost or 0
        else:
            result.token_drift.append(DriftPair(row, entry, entry_pending.cost))

    def finish(self) -> Reconciliation:
        result = self.result
        # Pairs are found in three stages; reports read best in time order.
        result.token_drift.sort(key=lambda pair: pair.row.started_at)
        result.gateway_only.sort(key=lambda item: item.entry.created_at)
        result.settlements.sort(key=lambda settlement: settlement.entry.created_at)
        for name in ("yuan_gateway", "yuan_ledger", "matched_yuan_ledger", "matched_yuan_gateway"):
            setattr(result, name, yuan(getattr(result, name)))
        return result


def _claim(row: _Pending, entry: _Pending) -> tuple[bool, int, float] | None:
    """How well `row` fits `entry` as one call counted differently; smaller is better.

    None when it cannot be the same call: our counts must share one with the gateway's and
    the other may differ by at most half (or 100 tokens), because unrelated calls of one
    model are always near each other in time. A row without counts (a failed attempt, an
    unknown row) fits any entry, but after every row whose counts fit it.
    """
    ours, theirs = row.item, entry.item
    apart = _apart(row, entry)
    if ours.state != COMPLETED or (ours.prompt_tokens == 0 and ours.completion_tokens == 0):
        return True, 0, apart
    prompt_gap = abs(ours.prompt_tokens - theirs.prompt_tokens)
    completion_gap = abs(ours.completion_tokens - theirs.completion_tokens)
    if prompt_gap and completion_gap:
        return None
    largest = (
        max(ours.prompt_tokens, theirs.prompt_tokens)
        if prompt_gap
        else max(ours.completion_tokens, theirs.completion_tokens)
    )
    if prompt_gap + completion_gap > max(DRIFT_TOKENS, largest // 2):
        return None
    return False, prompt_gap + completion_gap, apart


def _apart(row: _Pending, entry: _Pending) -> float:
    """Seconds from row to entry, for ranking. The gateway stamps its entry when the call ends,
    so an entry stamped before the call started (beyond the log's whole-second stamps) ranks
    after every entry stamped later."""
    gap = entry.t - row.t
    return gap if gap > -STAMP_ROUNDING_S else BEFORE_START - gap


def _is_unbilled_failure(row: LedgerSide) -> bool:
    return (
        row.state == COMPLETED
        and row.prompt_tokens == 0
        and row.completion_tokens == 0
        and not row.cost
    )
