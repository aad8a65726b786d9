"""Before anything is sent: input tokens, the most it can cost, and whether that fits the
month's budgets — for one job (the generate form's live estimate) and for a batch."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from prompts.gateway.estimate import estimate_input_tokens, split_to_fit
from prompts.gateway.kept_settings import kept_settings_block, split_kept_settings
from prompts.gateway.limits import DEFAULT_MAX_TOKENS, INPUT_TOKEN_LIMIT
from prompts.pipeline.creation import MAX_BRIEF_CHARS, JobSpec, job_estimate_tokens
from prompts.usage.budget_status import budget_statuses
from prompts.usage.ledger import call_cost, price_in_force
from prompts.usage.money import yuan


@dataclass(frozen=True)
class Estimate:
    """Input tokens (offline, erring high) and an upper bound in ¥ for one or more jobs,
    with what the month's budgets say about it."""

    jobs: int
    input_tokens: int
    max_tokens: int  # per job
    limit: int
    largest_input_tokens: int
    cost_upper: Decimal | None  # None: the model has no price
    budget_warnings: list[dict] = field(default_factory=list)

    @property
    def over_limit(self) -> bool:
        return self.largest_input_tokens >= self.limit

    @property
    def unpriced(self) -> bool:
        return self.cost_upper is None

    @property
    def refused_by_budget(self) -> bool:
        return any(warning["refused"] for warning in self.budget_warnings)


def jobs_estimate(specs: Sequence[JobSpec], *, team_id: int, user_id: int) -> Estimate:
    """The estimate for these jobs as `user_id` would send them in `team_id`."""
    per_job = [job_estimate_tokens(spec) for spec in specs]
    max_tokens = [spec.max_tokens or DEFAULT_MAX_TOKENS for spec in specs]
    price = price_in_force(settings.GATEWAY_MODEL, timezone.now())
    cost = (sum((call_cost(price, tokens, answer) for tokens, answer in zip(per_job, max_tokens,
                                                                             strict=True)),
                Decimal(0)) if price else None)
    return Estimate(
        jobs=len(specs), input_tokens=sum(per_job),
        max_tokens=max(max_tokens, default=DEFAULT_MAX_TOKENS), limit=INPUT_TOKEN_LIMIT,
        largest_input_tokens=max(per_job, default=0), cost_upper=cost,
        budget_warnings=budget_warnings(cost, team_id=team_id, user_id=user_id),
    )


def budget_warnings(cost_upper: Decimal | None, *, team_id: int, user_id: int) -> list[dict]:
    """What the team's and the user's monthly budgets say about spending up to `cost_upper`:
    used up (jobs are refused now) or not enough left for the worst case."""
    warnings = []
    for status in budget_statuses(team_id=team_id, user_id=user_id):
        values = {"limit": yuan(status.budget.monthly_limit), "left": yuan(status.remaining),
                  "cost": yuan(cost_upper)}
        if status.level == "error":
            text = (_("The team's monthly budget of ¥%(limit)s is used up: this will be "
                      "refused.") if status.is_team else
                    _("Your monthly budget of ¥%(limit)s is used up: this will be refused."))
            warnings.append({"refused": True, "text": text % values})
        elif cost_upper is not None and cost_upper > status.remaining:
            text = (_("This may cost up to ¥%(cost)s, more than the ¥%(left)s left in the "
                      "team's monthly budget of ¥%(limit)s: jobs wait once it is used up.")
                    if status.is_team else
                    _("This may cost up to ¥%(cost)s, more than the ¥%(left)s left in your "
                      "monthly budget of ¥%(limit)s: jobs wait once it is used up."))
            warnings.append({"refused": False, "text": text % values})
    return warnings


def brief_split_rows(brief: str, references: Sequence) -> list[str]:
    """A brief too long for one request as batch rows that each fit: by paragraph, then by
    sentence (prompts.gateway.estimate.split_to_fit). A "Keep these settings" block is kept
    on every row, and every row is sent with the same references."""
    text, kept = split_kept_settings(brief)
    block = kept_settings_block(kept)
    # One newline, not a blank line: the batch form splits its text at blank lines.
    suffix = f"\n{block}" if block else ""
    fixed = estimate_input_tokens(
        text=suffix, image_sizes=[(ref.send_width, ref.send_height) for ref in references])
    rows = split_to_fit(text, max_tokens=max(INPUT_TOKEN_LIMIT - 1 - fixed, 1),
                        max_chars=MAX_BRIEF_CHARS - len(suffix))
    return [row + suffix for row in rows]
