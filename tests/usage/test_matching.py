"""Reconciliation's matcher: ledger rows against the gateway's log entries, one to one.

Pure values in and out: no database.
"""

import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from prompts.gateway.usage_log import UsageLogEntry
from prompts.usage.reconciliation.matching import (
    LedgerSide,
    Settlement,
    UnsortedInputError,
    reconcile,
)

MODEL = "grok-build-0.1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def row(
    call_id,
    at_s,
    prompt=1000,
    completion=500,
    *,
    cost="0.006000",
    client="",
    gateway="",
    state="completed",
    model=MODEL,
) -> LedgerSide:
    return LedgerSide(
        call_id=call_id,
        started_at=T0 + timedelta(seconds=at_s),
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=None if cost is None else Decimal(cost),
        client_request_id=client,
        gateway_request_id=gateway,
        state=state,
    )


def entry(
    at_s, prompt=1000, completion=500, *, request_id="", quota=600, model=MODEL
) -> UsageLogEntry:
    return UsageLogEntry(
        gateway_id="7",
        created_at=T0 + timedelta(seconds=at_s),
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        quota=quota,
        cost=None,
        request_id=request_id,
        token_name="grokweb",
    )


def by_quota(entry: UsageLogEntry) -> Decimal | None:
    """¥1 = 100,000 quota, as GATEWAY_QUOTA_PER_YUAN would say."""
    return None if entry.quota is None else Decimal(entry.quota) / 100_000


def run(rows, entries, **kwargs):
    return reconcile(iter(rows), iter(entries), price=kwargs.pop("price", by_quota), **kwargs)


def test_it_matches_equal_counts_near_in_time():
    result = run([row(1, 0), row(2, 40, 2000, 100)], [entry(12), entry(55, 2000, 100)])

    assert result.matched == 2
    assert result.token_drift == result.gateway_only == result.ledger_only == []
    assert result.matched_yuan_ledger == Decimal("0.012000")
    assert result.matched_yuan_gateway == Decimal("0.012000")


def test_it_trusts_a_request_id_over_a_closer_time():
    # By time, call 1 would take the entry at 2 s; the ids say it is the one at 30 s.
    rows = [row(1, 0, client="req-a"), row(2, 1, client="req-b")]
    entries = [entry(2, request_id="req-b"), entry(30, 1000, 580, request_id="req-a")]

    result = run(rows, entries)

    assert result.matched == 1
    [drift] = result.token_drift
    assert (drift.row.call_id, drift.entry.request_id) == (1, "req-a")


def test_it_matches_the_gateways_own_request_id_we_stored():
    rows = [row(1, 0, client="ours-1", gateway="gw-9"), row(2, 0, client="ours-2")]
    entries = [entry(3, 1000, 777, request_id="gw-9"), entry(4)]

    result = run(rows, entries)

    assert [pair.row.call_id for pair in result.token_drift] == [1]
    assert result.matched == 1


def test_it_finds_an_id_match_beyond_the_time_window_within_the_id_window():
    rows = [row(1, 0, client="req-a")]
    entries = [entry(400, request_id="req-a")]

    assert run(rows, entries, window=timedelta(seconds=120)).matched == 1
    without_id = run([row(1, 0)], [entry(400)], window=timedelta(seconds=120))
    assert without_id.matched == 0
    assert (len(without_id.ledger_only), len(without_id.gateway_only)) == (1, 1)


@pytest.mark.parametrize(("rows_at", "entries_at"), [((0, 1), (5, 6)), ((7, 9), (2, 8))])
def test_it_pairs_two_identical_calls_with_two_entries_not_one_twice(rows_at, entries_at):
    rows = [row(n, at) for n, at in enumerate(rows_at, start=1)]
    entries = [entry(at) for at in entries_at]

    result = run(rows, entries)

    assert result.matched == 2
    assert result.gateway_only == result.ledger_only == []


def test_it_prefers_an_entry_stamped_after_the_call_started():
    # The gateway writes its entry when the call ends, so 90 s cannot be a call begun at 100 s
    # (it is another's that we lack), though it is nearer than 115 s.
    result = run([row(1, 100)], [entry(90, request_id="x"), entry(115, request_id="y")])

    assert result.matched == 1
    assert [g.entry.request_id for g in result.gateway_only] == ["x"]


def test_it_gives_a_drifted_entry_to_the_later_row_that_is_much_nearer():
    result = run([row(1, 0), row(2, 30)], [entry(35, 1000, 560)])

    assert [pair.row.call_id for pair in result.token_drift] == [2]
    assert [r.call_id for r in result.ledger_only] == [1]


def test_it_gives_a_drifted_entry_to_a_row_whose_counts_fit_before_a_row_without_counts():
    # The unknown row is nearer, but it could be any call; call 1's prompt count agrees.
    rows = [row(1, 0, 1000, 500), row(2, 50, 0, 0, cost=None, state="unknown")]

    result = run(rows, [entry(62, 1000, 540)])

    assert [pair.row.call_id for pair in result.token_drift] == [1]
    assert result.settlements == []
    assert [r.call_id for r in result.ledger_only] == [2]


def test_it_reports_token_drift_with_both_sides_counts_and_costs():
    result = run(
        [row(1, 0, 1000, 500, cost="0.006000", client="c-1")], [entry(20, 1000, 620, quota=700)]
    )

    [pair] = result.token_drift
    assert result.matched == 0
    assert result.to_json()["token_drift"] == [
        {
            "call_id": 1,
            "model": MODEL,
            "started_at": "2026-03-02T09:00:00+00:00",
            "created_at": "2026-03-02T09:00:20+00:00",
            "client_request_id": "c-1",
            "request_id": "",
            "ledger": {"prompt_tokens": 1000, "completion_tokens": 500, "cost": "0.006000"},
            "gateway": {"prompt_tokens": 1000, "completion_tokens": 620, "cost": "0.007000"},
        }
    ]


@pytest.mark.parametrize(("prompt", "completion"), [(5000, 90), (1010, 510), (1000, 5000)])
def test_it_does_not_call_two_unrelated_calls_drift(prompt, completion):
    # Same model, ten seconds apart, but no count in common, or one far off: not one call.
    result = run([row(1, 0, 1000, 500)], [entry(10, prompt, completion)])

    assert result.token_drift == []
    assert [r.call_id for r in result.ledger_only] == [1]
    assert [g.entry.prompt_tokens for g in result.gateway_only] == [prompt]


def test_it_never_pairs_across_models():
    result = run([row(1, 0, model="grok-build-0.1")], [entry(5, model="grok-build-0.2")])

    assert result.matched == 0
    assert (len(result.ledger_only), len(result.gateway_only)) == (1, 1)


def test_it_lists_what_only_one_side_has():
    result = run(
        [row(1, 0, client="c-1"), row(2, 1000, 300, 30)],
        [entry(10), entry(2000, 42, 7, request_id="someone-else")],
    )

    assert result.matched == 1
    assert [r.call_id for r in result.ledger_only] == [2]
    assert [g.entry.request_id for g in result.gateway_only] == ["someone-else"]
    document = result.to_json()
    assert document["ledger_only"][0]["unconfirmed"] is False
    assert document["gateway_only"][0]["in_flight_call_id"] is None


def test_it_pairs_a_failed_attempt_the_gateway_billed_anyway_as_drift():
    # Our read timed out (no counts, ¥0); the gateway finished the call and billed it.
    result = run([row(1, 0, 0, 0, cost="0.000000")], [entry(95, 1200, 400, quota=560)])

    [pair] = result.token_drift
    assert (pair.row.completion_tokens, pair.entry.completion_tokens) == (0, 400)
    assert result.difference == Decimal("0.005600")


def test_it_counts_unbilled_failed_attempts_as_agreement_not_as_ledger_only():
    result = run([row(1, 0, 0, 0, cost="0.000000"), row(2, 5)], [entry(15)])

    assert result.matched == 1
    assert result.ledger_only == []
    assert result.unbilled_failures == 1


def test_it_offers_unknown_rows_for_settlement_with_the_gateways_numbers():
    rows = [
        row(1, 0, 0, 0, cost=None, client="c-1", state="unknown"),
        row(2, 600, 0, 0, cost=None, state="unknown"),
        row(3, 1200, 0, 0, cost=None, state="unknown"),
    ]
    entries = [entry(25, 900, 300, request_id="c-1", quota=420), entry(630, 50, 5, quota=10)]

    result = run(rows, entries)

    assert result.settlements == [Settlement(1, entries[0], True), Settlement(2, entries[1], False)]
    assert result.to_json()["settled_unknown"] == 2
    [unbilled] = result.to_json()["ledger_only"]
    assert (unbilled["call_id"], unbilled["state"], unbilled["unconfirmed"]) == (3, "unknown", True)
    # Unknown rows have no cost yet: ¥0 on the ledger until they are settled.
    assert (result.yuan_ledger, result.yuan_gateway) == (Decimal("0.000000"), Decimal("0.004300"))
    assert result.gateway_only == [] and result.token_drift == []


def test_it_leaves_an_in_flight_row_unsettled_but_says_which_call_the_entry_is():
    result = run(
        [row(1, 0, 0, 0, cost=None, client="c-1", state="in_flight")], [entry(30, request_id="c-1")]
    )

    [billed] = result.gateway_only
    assert billed.in_flight_call_id == 1
    assert result.ledger_only == [] and result.settlements == []


def test_it_totals_both_sides_to_the_fen():
    rows = [
        row(1, 0, cost="0.004000"),
        row(2, 100, 10, 10, cost="1.234567"),
        row(3, 200, 7, 7, cost=None),
    ]
    prices = {600: Decimal("0.004000"), 601: Decimal("1.2345665"), 602: None, 603: Decimal("3")}
    entries = [
        entry(10, quota=600),
        entry(110, 10, 10, quota=601),
        entry(210, 7, 7, quota=602),
        entry(900, 1, 1, quota=603),
    ]

    result = run(rows, entries, price=lambda e: prices[e.quota])

    document = result.to_json()
    assert document["yuan_ledger"] == "1.238567"
    # 4.2385665 rounds half up at the sixth place (half-even would give 4.238566).
    assert document["yuan_gateway"] == "4.238567"
    assert document["difference"] == "3.000000"
    assert (result.unpriced_ledger, result.unpriced_gateway) == (1, 1)
    assert set(document) == {
        "matched",
        "token_drift",
        "gateway_only",
        "ledger_only",
        "settled_unknown",
        "yuan_gateway",
        "yuan_ledger",
        "difference",
    }


def test_it_refuses_unsorted_input():
    with pytest.raises(UnsortedInputError, match="ledger rows must be sorted"):
        run([row(1, 60), row(2, 0)], [])
    with pytest.raises(UnsortedInputError, match="log entries must be sorted"):
        run([], [entry(60), entry(0)])


def test_it_refuses_naive_times():
    naive = LedgerSide(1, datetime(2026, 3, 2, 9, 0), MODEL, 1, 1, None, "", "", "completed")

    with pytest.raises(ValueError, match="aware"):
        run([naive], [])


def test_it_holds_a_window_of_rows_in_memory_not_the_whole_period():
    # One call every 10 s, billed 5 s later. Rows are decided id window + 3 windows after
    # them, so four times the period must not take four times the memory.
    def peak_bytes(count: int) -> int:
        rows = (row(n, 10 * n, 1000 + n, 100) for n in range(count))
        entries = (entry(10 * n + 5, 1000 + n, 100) for n in range(count))
        tracemalloc.start()
        try:
            result = reconcile(rows, entries, price=by_quota)
            assert result.matched == count
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak_bytes(16_000) < 1.5 * peak_bytes(4_000)
