"""A reconciliation run: the ledger of local days since..until against the gateway's usage
log (pulled, or an imported file), stored with what it found call by call, unknown rows
settled from the log.

Nothing is half-stored: the log is read and matched first (a file is validated whole
before anything else), then the run, its items and its settlements are written in one
transaction. A log that cannot be read leaves a failed run with the reason, and nothing else.
"""

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from prompts.gateway.usage_log import (
    UsageLogEntry,
    UsageLogError,
    fetch_usage_log,
    parse_usage_log_file,
)
from prompts.models import GatewayCall, ReconciliationItem, ReconciliationRun
from prompts.usage.periods import local_midnight

from .ledger_side import EntryPricer, LedgerStream
from .matching import UnsortedInputError, reconcile
from .report import COMPLETED, IN_FLIGHT, UNKNOWN, Reconciliation
from .settle import call_settle_billed, call_settle_not_billed
from .source import log_source

logger = logging.getLogger(__name__)

Kind = ReconciliationItem.Kind
ID_WINDOW = timedelta(minutes=15)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _Entries:
    """The log's entries of [start, end), counted as the matcher reads them; it notes whether
    the gateway writes our request ids (UUIDs) into its log."""

    def __init__(self, entries: Iterable[UsageLogEntry], start: datetime, end: datetime):
        self.entries, self.start, self.end = entries, start, end
        self.count = 0
        self.with_our_ids = 0  # 1 once an entry carries one

    def __iter__(self) -> Iterator[UsageLogEntry]:
        for entry in self.entries:
            if not self.start <= entry.created_at < self.end:
                continue
            self.count += 1
            if not self.with_our_ids and _UUID.match(entry.request_id):
                self.with_our_ids = 1
            yield entry


def reconciliation_run(*, since: date, until: date, file_data: bytes | None = None,
                       filename: str = "", entries: Iterable[UsageLogEntry] | None = None,
                       trigger: str = "command", actor: User | None = None,
                       run: ReconciliationRun | None = None) -> ReconciliationRun:
    """Reconcile local days since..until (inclusive) against the log: pulled from the
    gateway, or read from `file_data`, or `entries` already read (oldest first; named
    `filename`). Returns the stored run; `run.status` is "failed" (with `run.error`) when
    the log could not be read. `run`: a queued run (still running) to complete."""
    start = local_midnight(since)
    end = local_midnight(until + timedelta(days=1))
    window = timedelta(seconds=max(settings.RECONCILE_WINDOW_S, 1))
    if run is None:
        run = ReconciliationRun(since=since, until=until, trigger=trigger, created_by=actor)
    try:
        if entries is not None:
            run.source, run.source_name = ReconciliationRun.Source.FILE, filename[:300]
            raw = entries
        elif file_data is None:
            source = log_source()
            run.source, run.source_name = ReconciliationRun.Source.PULL, source.url[:300]
            if not source.configured:
                raise UsageLogError("no access token for the gateway's usage log is set "
                                    "(GATEWAY_LOG_TOKEN, or the Reconciliation page)")
            raw = fetch_usage_log(url=source.url, token=source.token, user_id=source.user_id,
                                  start=start, end=end + window)
        else:
            run.source, run.source_name = ReconciliationRun.Source.FILE, filename[:300]
            raw = parse_usage_log_file(file_data, filename=filename)
        entries = _Entries(raw, start, end + window)
        ledger = LedgerStream(start, end)
        pricer = EntryPricer()
        result = reconcile(ledger, entries, price=pricer, window=window,
                           id_window=max(ID_WINDOW, window))
    except (UsageLogError, UnsortedInputError, ValueError) as error:
        return _failed(run, str(error))
    with transaction.atomic():
        _store(run, result, ledger, entries, pricer, actor)
    logger.info("reconciliation %s: %s..%s, %s matched, difference %s", run.pk, since, until,
                run.matched, run.difference)
    return run


def _failed(run: ReconciliationRun, error: str) -> ReconciliationRun:
    run.status = ReconciliationRun.Status.FAILED
    run.error = error[:2000]
    run.finished_at = timezone.now()
    run.save()
    logger.warning("reconciliation %s failed: %s", run.pk, run.error)
    return run


def _store(run: ReconciliationRun, result: Reconciliation, ledger: LedgerStream,
           entries: _Entries, pricer: EntryPricer, actor: User | None) -> None:
    run.status = ReconciliationRun.Status.OK
    run.save()
    items: list[ReconciliationItem] = []
    settled_yuan = Decimal("0.000000")
    settled = not_billed = 0
    for settlement in result.settlements:
        entry = settlement.entry
        cost, price = pricer.priced(entry)
        item = _gateway_item(entry, cost, call_id=settlement.call_id, state=UNKNOWN)
        item.by_request_id = settlement.by_request_id
        # Only an id match is certain enough to settle by itself; a match by model and time
        # alone is shown as billed-by-the-gateway, for someone to look at.
        if settlement.by_request_id and call_settle_billed(
                call_id=settlement.call_id, entry=entry, cost=cost, price=price, run_id=run.pk,
                actor=actor):
            item.kind = Kind.SETTLED
            settled += 1
            settled_yuan += cost or 0
        else:
            item.kind = Kind.GATEWAY_ONLY
        items.append(item)
    for pair in result.token_drift:
        item = _ledger_item(pair.row, Kind.TOKEN_DRIFT)
        _add_gateway(item, pair.entry, pair.gateway_cost)
        items.append(item)
    for gateway_only in result.gateway_only:
        items.append(_gateway_item(gateway_only.entry, gateway_only.cost,
                                   call_id=gateway_only.in_flight_call_id,
                                   state=IN_FLIGHT if gateway_only.in_flight_call_id else ""))
    # An unknown row the log lacks was not billed, when the log names calls by our ids.
    names_our_ids = entries.with_our_ids > 0
    for row in result.ledger_only:
        item = _ledger_item(row, Kind.LEDGER_ONLY)
        if row.state == UNKNOWN and names_our_ids and call_settle_not_billed(
                call_id=row.call_id, run_id=run.pk, actor=actor):
            item.settled_not_billed = True
            not_billed += 1
        items.append(item)
    _assign_teams(items)
    for item in items:
        item.run = run
    ReconciliationItem.objects.bulk_create(items, batch_size=1000)

    kinds = [item.kind for item in items]
    run.ledger_calls, run.gateway_entries = ledger.rows, entries.count
    run.matched = result.matched
    run.token_drift = kinds.count(Kind.TOKEN_DRIFT)
    run.gateway_only = kinds.count(Kind.GATEWAY_ONLY)
    run.ledger_only = kinds.count(Kind.LEDGER_ONLY)
    run.settled_unknown, run.settled_not_billed = settled, not_billed
    run.unpriced_ledger, run.unpriced_gateway = result.unpriced_ledger, result.unpriced_gateway
    run.yuan_gateway = result.yuan_gateway
    run.yuan_ledger_before = result.yuan_ledger
    run.yuan_ledger = result.yuan_ledger + settled_yuan
    run.difference = run.yuan_gateway - run.yuan_ledger
    run.teams = _team_totals(ledger, items)
    run.finished_at = timezone.now()
    run.save()


def _ledger_item(row, kind: str) -> ReconciliationItem:
    return ReconciliationItem(
        kind=kind, call_id=row.call_id, model=row.model, started_at=row.started_at,
        client_request_id=row.client_request_id, request_id=row.gateway_request_id,
        state=row.state, ledger_prompt_tokens=row.prompt_tokens,
        ledger_completion_tokens=row.completion_tokens, ledger_cost=row.cost)


def _gateway_item(entry: UsageLogEntry, cost: Decimal | None, *, call_id: int | None,
                  state: str) -> ReconciliationItem:
    item = ReconciliationItem(kind=Kind.GATEWAY_ONLY, call_id=call_id, model=entry.model,
                              state=state)
    _add_gateway(item, entry, cost)
    return item


def _add_gateway(item: ReconciliationItem, entry: UsageLogEntry, cost: Decimal | None) -> None:
    item.logged_at = entry.created_at
    item.request_id = entry.request_id[:100] or item.request_id
    item.gateway_prompt_tokens = entry.prompt_tokens
    item.gateway_completion_tokens = entry.completion_tokens
    item.gateway_cost = cost
    item.quota = entry.quota


def _assign_teams(items: list[ReconciliationItem]) -> None:
    """Each item's team from its call (in chunks), so managers see their team's items."""
    ids = sorted({item.call_id for item in items if item.call_id})
    teams: dict[int, int] = {}
    for offset in range(0, len(ids), 5000):
        teams.update(GatewayCall.objects.filter(pk__in=ids[offset:offset + 5000])
                     .values_list("id", "team_id"))
    for item in items:
        if item.call_id:
            item.team_id = teams.get(item.call_id)


def _team_totals(ledger: LedgerStream, items: list[ReconciliationItem]) -> dict:
    """Per team: calls read, the ledger's ¥ after settling, differences found."""
    totals = {team_id: {"calls": tally.calls, "yuan_ledger": tally.yuan_ledger,
                        "differences": 0, "settled": 0}
              for team_id, tally in ledger.teams.items()}
    for item in items:
        if item.team_id is None or item.team_id not in totals:
            continue
        team = totals[item.team_id]
        if item.kind == Kind.SETTLED:
            team["settled"] += 1
            team["yuan_ledger"] += item.gateway_cost or 0
        else:
            team["differences"] += 1
    return {str(team_id): {**values, "yuan_ledger": str(values["yuan_ledger"])}
            for team_id, values in totals.items()}


# What a run found, as the command's JSON and the page's CSV read it -------------------------


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_json(item: ReconciliationItem) -> dict:
    ledger = {"prompt_tokens": item.ledger_prompt_tokens,
              "completion_tokens": item.ledger_completion_tokens,
              "cost": _amount(item.ledger_cost)}
    gateway = {"prompt_tokens": item.gateway_prompt_tokens,
               "completion_tokens": item.gateway_completion_tokens,
               "cost": _amount(item.gateway_cost), "quota": item.quota}
    if item.kind == Kind.TOKEN_DRIFT:
        return {"call_id": item.call_id, "model": item.model,
                "started_at": _when(item.started_at), "created_at": _when(item.logged_at),
                "client_request_id": item.client_request_id, "request_id": item.request_id,
                "ledger": ledger, "gateway": gateway}
    if item.kind == Kind.LEDGER_ONLY:
        return {"call_id": item.call_id, "model": item.model,
                "started_at": _when(item.started_at),
                "client_request_id": item.client_request_id,
                "gateway_request_id": item.request_id, **ledger, "state": item.state,
                "unconfirmed": item.state != COMPLETED,
                "settled_not_billed": item.settled_not_billed}
    return {"request_id": item.request_id, "model": item.model,
            "created_at": _when(item.logged_at), **gateway, "call_id": item.call_id,
            "call_state": item.state or None, "by_request_id": item.by_request_id}


def run_json(run: ReconciliationRun) -> dict:
    """The `gateway_reconcile --format json` document: amounts as strings with 6 places."""
    found: dict[str, list] = {Kind.TOKEN_DRIFT: [], Kind.GATEWAY_ONLY: [], Kind.LEDGER_ONLY: []}
    for item in run.items.order_by("id").iterator(chunk_size=2000):
        if item.kind in found:
            found[item.kind].append(item_json(item))
    return {
        "matched": run.matched,
        "token_drift": found[Kind.TOKEN_DRIFT],
        "gateway_only": found[Kind.GATEWAY_ONLY],
        "ledger_only": found[Kind.LEDGER_ONLY],
        "settled_unknown": run.settled_unknown,
        "yuan_gateway": _amount(run.yuan_gateway),
        "yuan_ledger": _amount(run.yuan_ledger),
        "difference": _amount(run.difference),
    }
