"""The two sides as the matcher reads them: ledger rows streamed from the database in the
order the calls started, and the ¥ of each gateway log entry."""

import bisect
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from prompts.gateway.usage_log import UsageLogEntry, quota_to_yuan
from prompts.models import GatewayCall, ModelPrice
from prompts.usage.ledger import LEDGER_PLACES, call_cost

from .report import LedgerSide

CHUNK = 20_000
_EPOCH = {
    "postgresql": "EXTRACT(EPOCH FROM prompts_gatewaycall.started_at)::float8",
    "sqlite": "(julianday(prompts_gatewaycall.started_at) - 2440587.5) * 86400.0",
}


@dataclass
class TeamTally:
    calls: int = 0
    yuan_ledger: Decimal = field(default_factory=lambda: Decimal("0.000000"))


class LedgerStream:
    """Ledger rows of [start, end) by started_at, read from a server-side cursor in chunks,
    as LedgerSide values; it counts each team's calls and ¥ as they go by.

    Left out: attempts the gateway refused with an error status (4xx, 5xx) and no tokens,
    which it does not bill. They would only count as unbilled failures, and a row without
    counts can pair with any entry of its model, so leaving them out keeps a refusal from
    being taken for a billed call nearby. A timeout or a cut-off answer (no status, or 200)
    stays in: the gateway may well have billed it."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end
        self.rows = 0
        self.teams: dict[int, TeamTally] = {}

    def __iter__(self) -> Iterator[LedgerSide]:
        refused = Q(http_status__gte=400) & Q(prompt_tokens=0) & Q(completion_tokens=0)
        postgres = connection.vendor == "postgresql"
        # A million rows: the moment as epoch seconds and our id as text cost a fraction of
        # what parsing a timestamptz and building a UUID per row costs.
        rows = (
            GatewayCall.objects.filter(started_at__gte=self.start, started_at__lt=self.end)
            .exclude(refused)
            .annotate(epoch=RawSQL(_EPOCH[connection.vendor], ()),
                      client_id=Cast("client_request_id", CharField()))
            .order_by("started_at", "id")
            .values_list("id", "epoch", "model", "prompt_tokens", "completion_tokens",
                         "cost", "client_id", "request_id", "state", "team_id")
            .iterator(chunk_size=CHUNK)
        )
        teams = self.teams
        completed = GatewayCall.State.COMPLETED
        for (call_id, epoch, model, prompt, completion, cost, client_id, gateway_id,
             state, team_id) in rows:
            self.rows += 1
            tally = teams.get(team_id)
            if tally is None:
                tally = teams[team_id] = TeamTally()
            tally.calls += 1
            if cost is not None and state == completed:
                if not postgres:
                    cost = cost.quantize(LEDGER_PLACES)  # SQLite hands back stray digits
                tally.yuan_ledger += cost
            else:
                cost = None  # unpriced, or open: what it cost is not known yet
            if client_id and not postgres:
                client_id = str(uuid.UUID(client_id))  # SQLite keeps it without dashes
            yield LedgerSide(call_id, datetime.fromtimestamp(epoch, UTC), model, prompt,
                             completion, cost, client_id or "", gateway_id, state)


class EntryPricer:
    """The gateway's ¥ for a log entry: the ¥ a file gives; else its quota converted with
    GATEWAY_QUOTA_PER_YUAN when set; else its token counts priced with our price book at
    the entry's time. None: none of these (the model has no price)."""

    def __init__(self, quota_per_yuan: Decimal | None = None) -> None:
        self.quota_per_yuan = (settings.GATEWAY_QUOTA_PER_YUAN if quota_per_yuan is None
                               else quota_per_yuan)
        self.book: dict[str, tuple[list[datetime], list[ModelPrice]]] = {}
        for price in ModelPrice.objects.order_by("model", "effective_from"):
            starts, prices = self.book.setdefault(price.model, ([], []))
            starts.append(price.effective_from)
            prices.append(price)

    def price_at(self, model: str, at: datetime) -> ModelPrice | None:
        starts, prices = self.book.get(model, ((), ()))
        index = bisect.bisect_right(starts, at) - 1
        return prices[index] if index >= 0 else None

    def priced(self, entry: UsageLogEntry) -> tuple[Decimal | None, ModelPrice | None]:
        """(¥, the price-book row it came from, if it did)."""
        if entry.cost is not None:
            return entry.cost.quantize(LEDGER_PLACES), None
        if self.quota_per_yuan and entry.quota is not None:
            return quota_to_yuan(entry.quota, self.quota_per_yuan), None
        price = self.price_at(entry.model, entry.created_at)
        if price is None:
            return None, None
        return call_cost(price, entry.prompt_tokens, entry.completion_tokens), price

    def __call__(self, entry: UsageLogEntry) -> Decimal | None:
        return self.priced(entry)[0]
