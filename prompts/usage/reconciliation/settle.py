"""Settling unconfirmed (unknown) ledger rows from the gateway's log, so the ledger equals
the bill: a row the log billed takes the log's tokens and ¥; a row the log has no call for,
when the log names calls by our request id, was not billed (¥0). Each settlement completes
the row once (it must still be unknown), adds it to the rollup, frees what its budgets held
beyond the real cost, and is audited. A match by time alone is settled only when a person
confirms it on the run's page (`item_settle`)."""

from decimal import Decimal

from django.db import transaction

from accounts.models import User
from accounts.services import audit_record
from prompts.gateway.usage_log import UsageLogEntry
from prompts.models import GatewayCall, ModelPrice, ReconciliationItem, ReconciliationRun
from prompts.usage.ledger import call_cost, price_in_force, rollup_add
from prompts.usage.reservations import budget_settle

from .selectors import item_settleable

Outcome = GatewayCall.Outcome
State = GatewayCall.State
Kind = ReconciliationItem.Kind


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


def item_settle(*, item_id: int, run_id: int, team_id: int | None,
                actor: User) -> GatewayCall | None:
    """A person confirms a probable match by time alone: the unknown call takes the log
    entry's tokens and ¥, as a match by request id would, and the run's figures follow.
    `team_id`: the manager's team (None: a site admin). None when there is nothing to
    settle: not such an item, already settled, or the call is no longer unknown."""
    with transaction.atomic():
        item = ReconciliationItem.objects.select_for_update().filter(
            pk=item_id, run_id=run_id).first()
        if item is None or not item_settleable(item) or team_id not in (None, item.team_id):
            return None
        entry = UsageLogEntry(
            gateway_id="", created_at=item.logged_at, model=item.model,
            prompt_tokens=item.gateway_prompt_tokens or 0,
            completion_tokens=item.gateway_completion_tokens or 0, quota=item.quota,
            cost=item.gateway_cost, request_id=item.request_id, token_name="")
        price = price_in_force(item.model, item.logged_at)
        if price is not None and item.gateway_cost != call_cost(
                price, entry.prompt_tokens, entry.completion_tokens):
            price = None  # the ¥ came from the log itself, not from our price book
        call = call_settle_billed(call_id=item.call_id, entry=entry, cost=item.gateway_cost,
                                  price=price, run_id=run_id, actor=actor)
        if call is None:
            return None
        item.kind = Kind.SETTLED
        item.save(update_fields=["kind"])
        _run_add_settlement(item)
        return call


def _run_add_settlement(item: ReconciliationItem) -> None:
    """The run's totals after one more settled call (the run row is locked meanwhile)."""
    run = ReconciliationRun.objects.select_for_update().get(pk=item.run_id)
    cost = item.gateway_cost or 0
    run.gateway_only -= 1
    run.settled_unknown += 1
    run.yuan_ledger += cost
    run.difference = run.yuan_gateway - run.yuan_ledger
    team = run.teams.get(str(item.team_id))
    if team is not None:
        team["differences"] = max(team.get("differences", 0) - 1, 0)
        team["settled"] = team.get("settled", 0) + 1
        team["yuan_ledger"] = str(Decimal(team.get("yuan_ledger", "0")) + cost)
    run.save(update_fields=["gateway_only", "settled_unknown", "yuan_ledger", "difference",
                            "teams"])
