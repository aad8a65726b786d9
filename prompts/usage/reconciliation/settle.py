"""Settling unconfirmed (unknown) ledger rows from the gateway's log, so the ledger equals
the bill: a row the log billed takes the log's tokens and ¥; a row the log has no call for,
when the log names calls by our request id, was not billed (¥0). Each settlement completes
the row once (it must still be unknown), adds it to the rollup, frees what its budgets held
beyond the real cost, and is audited."""

from decimal import Decimal

from django.db import transaction

from accounts.models import User
from accounts.services import audit_record
from prompts.gateway.usage_log import UsageLogEntry
from prompts.models import GatewayCall, ModelPrice
from prompts.usage.ledger import rollup_add
from prompts.usage.reservations import budget_settle

Outcome = GatewayCall.Outcome
State = GatewayCall.State


def _settle(call_id: int, fields: dict, *, run_id: int, evidence: dict,
            actor: User | None) -> GatewayCall | None:
    """Complete an unknown row with `fields`, in the caller's transaction. None when it is no
    longer unknown (a late answer completed it, or another run settled it)."""
    if not GatewayCall.objects.filter(pk=call_id, state=State.UNKNOWN).update(
            state=State.COMPLETED, outcome=Outcome.LOST, **fields):
        return None
    call = GatewayCall.objects.get(pk=call_id)
    rollup_add(call)
    audit_record(actor=actor, action="ledger.settle", target=call,
                 before={"state": State.UNKNOWN, "max_cost": str(call.max_cost or "")},
                 after={"run": run_id, "prompt_tokens": call.prompt_tokens,
                        "completion_tokens": call.completion_tokens,
                        "cost": None if call.cost is None else str(call.cost), **evidence})
    transaction.on_commit(lambda: budget_settle(call=call, before=call.max_cost))
    return call


def call_settle_billed(*, call_id: int, entry: UsageLogEntry, cost: Decimal | None,
                       price: ModelPrice | None, run_id: int,
                       actor: User | None = None) -> GatewayCall | None:
    """The gateway billed the unknown row: its tokens and ¥ from the log's entry."""
    return _settle(call_id, {
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "cost": cost,
        # A cost from our price book keeps its price; the gateway's own ¥ has none.
        "price_id": price.pk if price is not None and cost is not None else None,
        "request_id": entry.request_id[:100],
        "error_message": f"Settled from the gateway's usage log (reconciliation {run_id}).",
    }, run_id=run_id, actor=actor, evidence={"request_id": entry.request_id,
                                             "logged_at": entry.created_at.isoformat(),
                                             "source": "billed"})


def call_settle_not_billed(*, call_id: int, run_id: int,
                           actor: User | None = None) -> GatewayCall | None:
    """The gateway's log has no such call: it was not billed."""
    return _settle(call_id, {
        "prompt_tokens": 0, "completion_tokens": 0, "cost": Decimal("0.000000"),
        "price_id": None,
        "error_message": f"Not in the gateway's usage log (reconciliation {run_id}): not billed.",
    }, run_id=run_id, actor=actor, evidence={"source": "not_billed"})
