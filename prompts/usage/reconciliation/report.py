"""What reconciliation compares and what it finds: plain values, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from prompts.gateway.usage_log import UsageLogEntry

YUAN_PLACES = Decimal("0.000001")
COMPLETED, UNKNOWN, IN_FLIGHT = "completed", "unknown", "in_flight"


@dataclass(frozen=True, slots=True)
class LedgerSide:
    """One GatewayCall row as reconciliation sees it."""

    call_id: int
    started_at: datetime  # aware
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal | None  # None: unpriced, or not known yet (unknown / in-flight rows)
    client_request_id: str  # what we sent as X-Request-Id
    gateway_request_id: str  # what the gateway's answer called the request
    state: str  # COMPLETED | UNKNOWN | IN_FLIGHT


class Settlement(NamedTuple):
    """An unknown row the gateway billed: settle it with the entry's tokens and cost."""

    call_id: int
    entry: UsageLogEntry
    # True: the entry carries the row's request id. False: paired by model and time alone,
    # the best guess when the log has no ids; worth a look before settling.
    by_request_id: bool


@dataclass(frozen=True, slots=True)
class DriftPair:
    """The same call, counted differently by us and by the gateway."""

    row: LedgerSide
    entry: UsageLogEntry
    gateway_cost: Decimal | None


@dataclass(frozen=True, slots=True)
class GatewayOnly:
    """Billed by the gateway with no confirmed ledger row behind it."""

    entry: UsageLogEntry
    cost: Decimal | None
    # The in-flight ledger row it belongs to: still being answered, so not settled here.
    in_flight_call_id: int | None = None


@dataclass
class Reconciliation:
    """The outcome. Totals count every row and entry; an unpriced amount counts as ¥0 and is
    counted in `unpriced_*` so the caller can say so loudly."""

    matched: int = 0
    matched_yuan_ledger: Decimal = Decimal(0)
    matched_yuan_gateway: Decimal = Decimal(0)
    token_drift: list[DriftPair] = field(default_factory=list)
    gateway_only: list[GatewayOnly] = field(default_factory=list)
    ledger_only: list[LedgerSide] = field(default_factory=list)
    # Unknown rows the gateway billed. Settling them with the entries' tokens and cost brings
    # the ledger to the bill; until then an unknown row counts ¥0.
    settlements: list[Settlement] = field(default_factory=list)
    yuan_gateway: Decimal = Decimal(0)
    yuan_ledger: Decimal = Decimal(0)
    # Completed rows with no tokens and no cost that nothing billed (failed attempts): they
    # agree with the log, so they are counted, not listed.
    unbilled_failures: int = 0
    unpriced_ledger: int = 0
    unpriced_gateway: int = 0

    @property
    def difference(self) -> Decimal:
        return yuan(self.yuan_gateway - self.yuan_ledger)

    @property
    def settled_unknown(self) -> int:
        return len(self.settlements)

    def to_json(self) -> dict:
        """The `gateway_reconcile --format json` document (a dict ready for json.dumps)."""
        return {
            "matched": self.matched,
            "token_drift": [_drift_json(pair) for pair in self.token_drift],
            "gateway_only": [_gateway_only_json(item) for item in self.gateway_only],
            "ledger_only": [_ledger_only_json(row) for row in self.ledger_only],
            "settled_unknown": self.settled_unknown,
            "yuan_gateway": _amount(self.yuan_gateway),
            "yuan_ledger": _amount(self.yuan_ledger),
            "difference": _amount(self.difference),
        }


def yuan(value: Decimal) -> Decimal:
    return value.quantize(YUAN_PLACES, rounding=ROUND_HALF_UP)


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(yuan(value))


def _drift_json(pair: DriftPair) -> dict:
    row, entry = pair.row, pair.entry
    return {
        "call_id": row.call_id,
        "model": row.model,
        "started_at": row.started_at.isoformat(),
        "created_at": entry.created_at.isoformat(),
        "client_request_id": row.client_request_id,
        "request_id": entry.request_id,
        "ledger": {
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "cost": _amount(row.cost),
        },
        "gateway": {
            "prompt_tokens": entry.prompt_tokens,
            "completion_tokens": entry.completion_tokens,
            "cost": _amount(pair.gateway_cost),
        },
    }


def _gateway_only_json(item: GatewayOnly) -> dict:
    entry = item.entry
    return {
        "gateway_id": entry.gateway_id,
        "request_id": entry.request_id,
        "model": entry.model,
        "created_at": entry.created_at.isoformat(),
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "quota": entry.quota,
        "cost": _amount(item.cost),
        "token_name": entry.token_name,
        "in_flight_call_id": item.in_flight_call_id,
    }


def _ledger_only_json(row: LedgerSide) -> dict:
    return {
        "call_id": row.call_id,
        "model": row.model,
        "started_at": row.started_at.isoformat(),
        "client_request_id": row.client_request_id,
        "gateway_request_id": row.gateway_request_id,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cost": _amount(row.cost),
        "state": row.state,
        "unconfirmed": row.state != COMPLETED,
    }
