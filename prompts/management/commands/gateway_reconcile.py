import json
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from prompts.models import ReconciliationItem, ReconciliationRun
from prompts.usage.reconciliation.runs import reconciliation_run, run_json

SHOWN = 20  # differences listed per kind in the text report (all of them are in --format json)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Reconcile the ledger of local days --since..--until (inclusive) against the gateway's "
        "own usage log, pulled (--pull: GATEWAY_LOG_URL / GATEWAY_LOG_TOKEN or the "
        "Reconciliation page) or from an exported file (--file: JSON, or CSV with created_at, "
        "model_name, prompt_tokens, completion_tokens). Unconfirmed calls the log billed, by "
        "our request id, are settled with the log's numbers. The run is stored and shown on "
        "the Reconciliation page. Exit status 1 when the log cannot be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_day, required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", type=_day, required=True,
                            help="last day (inclusive), YYYY-MM-DD")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--pull", action="store_true", help="read the gateway's log")
        source.add_argument("--file", type=Path, help="a log file an admin downloaded")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **opts):
        if opts["until"] < opts["since"]:
            raise CommandError("--until is before --since.")
        data = None
        if opts["file"] is not None:
            try:
                data = opts["file"].read_bytes()
            except OSError as error:
                raise CommandError(f"Cannot read {opts['file']}: {error.strerror}.") from None
        run = reconciliation_run(since=opts["since"], until=opts["until"], file_data=data,
                                 filename=opts["file"].name if opts["file"] else "")
        if run.status == ReconciliationRun.Status.FAILED:
            raise CommandError(f"Reconciliation {run.pk} failed: {run.error}. Nothing was "
                               "settled.")
        if opts["format"] == "json":
            self.stdout.write(json.dumps(run_json(run), ensure_ascii=False, indent=2))
            return
        self._text(run)

    def _text(self, run: ReconciliationRun) -> None:
        out = self.stdout.write
        source = "pulled from" if run.source == "pull" else "file"
        out(f"Reconciliation {run.pk}: {run.since} to {run.until} ({source} {run.source_name})")
        out(f"  ledger calls read:   {run.ledger_calls}")
        out(f"  gateway log entries: {run.gateway_entries}")
        out(f"  matched:             {run.matched}")
        out(f"  token drift:         {run.token_drift}")
        out(f"  gateway only:        {run.gateway_only}   (billed, not confirmed in the ledger)")
        out(f"  ledger only:         {run.ledger_only}   (in the ledger, not billed)")
        out(f"  settled unknown:     {run.settled_unknown}   (unconfirmed calls the log billed)")
        if run.settled_not_billed:
            out(f"  settled not billed:  {run.settled_not_billed}   (unconfirmed calls the log "
                "does not have)")
        if run.unpriced_ledger or run.unpriced_gateway:
            out(f"  UNPRICED: {run.unpriced_ledger} ledger rows, {run.unpriced_gateway} log "
                "entries have no ¥ (not in the totals below)")
        out(f"  ¥ gateway:  {run.yuan_gateway:.6f}")
        out(f"  ¥ ledger:   {run.yuan_ledger:.6f}"
            + (f"   (before settling: {run.yuan_ledger_before:.6f})"
               if run.settled_unknown else ""))
        out(f"  difference: ¥{run.difference:.6f}")
        if not run.differences:
            out(f"All {run.matched} calls matched." if run.matched else "No calls to compare.")
            return
        for kind, label in ReconciliationItem.Kind.choices:
            items = run.items.filter(kind=kind).order_by("id")
            count = items.count()
            if not count or kind == ReconciliationItem.Kind.SETTLED:
                continue
            out(f"{label} ({count}):")
            for item in items[:SHOWN]:
                out("  " + _line(item))
            if count > SHOWN:
                out(f"  … and {count - SHOWN} more (--format json lists them all)")


def _line(item: ReconciliationItem) -> str:
    ledger = (f"ledger {item.ledger_prompt_tokens}+{item.ledger_completion_tokens} tokens "
              f"¥{item.ledger_cost if item.ledger_cost is not None else '-'}")
    gateway = (f"gateway {item.gateway_prompt_tokens}+{item.gateway_completion_tokens} tokens "
               f"¥{item.gateway_cost if item.gateway_cost is not None else '-'}")
    call = f"call {item.call_id} ({item.state})" if item.call_id else "no ledger row"
    when = item.started_at or item.logged_at
    parts = [f"{when:%Y-%m-%d %H:%M:%S}" if when else "", item.model, call,
             item.request_id or item.client_request_id]
    if item.kind != ReconciliationItem.Kind.GATEWAY_ONLY:
        parts.append(ledger)
    if item.kind != ReconciliationItem.Kind.LEDGER_ONLY:
        parts.append(gateway)
    if item.settled_not_billed:
        parts.append("settled: not billed")
    return " · ".join(part for part in parts if part)
