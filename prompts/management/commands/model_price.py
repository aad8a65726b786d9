from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from prompts.models import ModelPrice
from prompts.usage.periods import local_midnight
from prompts.usage.prices import calls_reprice, price_set


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{value!r} is not a number.") from None


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "The price book: ¥ per 1M input/output tokens per model from a date on. Prices are "
        "added, never edited; recorded calls keep their cost unless re-priced explicitly."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        set_parser = actions.add_parser("set", help="add a price")
        set_parser.add_argument("--model", required=True)
        set_parser.add_argument("--input-per-mtok", required=True, type=_amount,
                                help="¥ per 1M input tokens (US$ with --usd-rate)")
        set_parser.add_argument("--output-per-mtok", required=True, type=_amount,
                                help="¥ per 1M output tokens (US$ with --usd-rate)")
        set_parser.add_argument("--effective-from", type=_day,
                                help="YYYY-MM-DD, from local midnight (default: now)")
        set_parser.add_argument("--usd-rate", type=_amount,
                                help="the amounts are US$: convert at this USD→¥ rate")
        set_parser.add_argument("--rate-date", type=_day, help="date of the USD→¥ rate")
        set_parser.add_argument("--note", default="")
        actions.add_parser("list", help="every price, newest first per model")
        reprice = actions.add_parser(
            "reprice", help="re-price recorded calls at the prices now in the book (audited)")
        reprice.add_argument("--model", required=True)
        reprice.add_argument("--since", required=True, type=_day)
        reprice.add_argument("--until", required=True, type=_day)

    def handle(self, *args, action, **opts):
        getattr(self, f"_{action}")(**opts)

    def _set(self, *, model, input_per_mtok, output_per_mtok, effective_from, usd_rate,
             rate_date, note, **_opts):
        try:
            price = price_set(
                model=model, input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok,
                effective_from=local_midnight(effective_from) if effective_from else None,
                usd_rate=usd_rate, usd_rate_date=rate_date, note=note, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Added: {self._line(price)}"))

    def _list(self, **_opts):
        now = timezone.now()
        in_force = set()
        for price in ModelPrice.objects.order_by("model", "-effective_from"):
            mark = ""
            if price.effective_from > now:
                mark = "  (scheduled)"
            elif price.model not in in_force:
                in_force.add(price.model)
                mark = "  (in force)"
            self.stdout.write(self._line(price) + mark)

    def _line(self, price: ModelPrice) -> str:
        line = (f"{price.model}  from {timezone.localtime(price.effective_from):%Y-%m-%d %H:%M}  "
                f"¥{price.input_per_mtok.normalize():f} in / ¥{price.output_per_mtok.normalize():f}"
                " out per 1M tokens")
        if price.usd_rate:
            line += (f"  (US${price.usd_input_per_mtok.normalize():f} / "
                     f"US${price.usd_output_per_mtok.normalize():f} at "
                     f"{price.usd_rate.normalize():f} on {price.usd_rate_date})")
        return line + ("  EXAMPLE" if price.is_example else "")

    def _reprice(self, *, model, since, until, **_opts):
        try:
            result = calls_reprice(model=model, since=since, until=until, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Re-priced {result.changed} of {result.calls} calls of {model}: "
            f"¥{result.cost_before} became ¥{result.cost_after}; unpriced "
            f"{result.unpriced_before} became {result.unpriced_after}."))
