"""Forms of the usage pages: report filters, budgets, the price book. They validate only."""

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from prompts.usage.periods import local_midnight, month_start

MAX_REPORT_DAYS = 3 * 366
GROUP_CHOICES = [
    ("user", _("User")), ("project", _("Project")), ("model", _("Model")), ("day", _("Day")),
]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ReportFilterForm(forms.Form):
    since = forms.DateField(label=_("From"), widget=DATE_WIDGET)
    until = forms.DateField(label=_("To (inclusive)"), widget=DATE_WIDGET)
    group_by = forms.ChoiceField(label=_("Group by"), choices=GROUP_CHOICES)

    def __init__(self, data=None, **kwargs):
        today = timezone.localdate()
        self.defaults = {"since": month_start(today), "until": today, "group_by": "user"}
        if data is not None:
            # What the query leaves out takes its default: this month, by user.
            data = {**{name: str(value) for name, value in self.defaults.items()},
                    **{name: data[name] for name in data if data[name]}}
        super().__init__(data, initial=self.defaults, **kwargs)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until:
            if until < since:
                raise forms.ValidationError(_("The end date is before the start date."))
            if (until - since).days >= MAX_REPORT_DAYS:
                raise forms.ValidationError(
                    _("Choose a range of at most %(days)s days.") % {"days": MAX_REPORT_DAYS})
        return cleaned

    def filters(self) -> dict | None:
        """since, until and group_by to report on, or None when the query is invalid."""
        if not self.is_bound:
            return dict(self.defaults)
        if not self.is_valid():
            return None
        return {name: self.cleaned_data[name] for name in self.defaults}


class CsvExportForm(ReportFilterForm):
    group_by = forms.ChoiceField(
        choices=GROUP_CHOICES + [("detail", _("Day, user, project and model"))])


class StatementForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%Y-%m"],
                            widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"))

    def __init__(self, data=None, **kwargs):
        # Without ?month= the page shows this month, with no error to complain about.
        if data is not None and not data.get("month"):
            data = None
        super().__init__(data, initial={"month": month_start()}, **kwargs)

    def month_or_current(self) -> date | None:
        if not self.is_bound:
            return month_start()
        return self.cleaned_data["month"] if self.is_valid() else None


class BudgetForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Whose budget"), queryset=User.objects.none(), required=False,
        empty_label=_("The whole team"),
    )
    monthly_limit = forms.DecimalField(
        label=_("Monthly limit (¥)"), max_digits=14, decimal_places=2, min_value=Decimal(0))
    warn_at_percent = forms.IntegerField(
        label=_("Warn at (percentage of the limit)"), initial=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)])

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(memberships__team=team).order_by(
            "username")

    @property
    def warn_at(self) -> Decimal:
        return Decimal(self.cleaned_data["warn_at_percent"]) / 100


class PriceForm(forms.Form):
    CURRENCIES = [("CNY", _("¥ (RMB)")), ("USD", _("US$ (converted at the rate below)"))]

    model = forms.CharField(label=_("Model"), max_length=100)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCIES, initial="CNY")
    input_per_mtok = forms.DecimalField(
        label=_("Per 1M input tokens"), max_digits=14, decimal_places=6, min_value=Decimal(0))
    output_per_mtok = forms.DecimalField(
        label=_("Per 1M output tokens"), max_digits=14, decimal_places=6, min_value=Decimal(0))
    usd_rate = forms.DecimalField(
        label=_("USD→¥ rate"), max_digits=10, decimal_places=4, required=False,
        min_value=Decimal("0.0001"))
    usd_rate_date = forms.DateField(label=_("Rate date"), required=False, widget=DATE_WIDGET)
    effective_from = forms.DateField(
        label=_("Effective from (local midnight; empty: now)"), required=False,
        widget=DATE_WIDGET)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("currency") == "USD" and not cleaned.get("usd_rate"):
            self.add_error("usd_rate", _("A price in USD needs the USD→¥ rate."))
        return cleaned

    def price_kwargs(self) -> dict:
        data = self.cleaned_data
        usd = data["currency"] == "USD"
        return {
            "model": data["model"],
            "input_per_mtok": data["input_per_mtok"],
            "output_per_mtok": data["output_per_mtok"],
            "effective_from": local_midnight(data["effective_from"])
            if data["effective_from"] else None,
            "usd_rate": data["usd_rate"] if usd else None,
            "usd_rate_date": data["usd_rate_date"] if usd else None,
            "note": data["note"],
        }


class RepriceForm(forms.Form):
    model = forms.CharField(label=_("Model"), max_length=100)
    since = forms.DateField(label=_("From"), widget=DATE_WIDGET)
    until = forms.DateField(label=_("To (inclusive)"), widget=DATE_WIDGET)
    confirm = forms.BooleanField(
        label=_("I understand this rewrites the recorded cost of these calls"), required=True)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            raise forms.ValidationError(_("The end date is before the start date."))
        return cleaned


class ReconcileForm(forms.Form):
    """Run a reconciliation now: pull the gateway's log, or read a file an admin downloaded."""

    MAX_FILE_BYTES = 200 * 1024 * 1024

    since = forms.DateField(label=_("From"), widget=DATE_WIDGET)
    until = forms.DateField(label=_("To (inclusive)"), widget=DATE_WIDGET)
    log_file = forms.FileField(
        label=_("Log file (JSON or CSV; leave empty to pull the gateway's log)"), required=False)

    def __init__(self, *args, **kwargs):
        yesterday = timezone.localdate() - timedelta(days=1)
        kwargs.setdefault("initial", {"since": yesterday, "until": yesterday})
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            raise forms.ValidationError(_("The end date is before the start date."))
        upload = cleaned.get("log_file")
        if upload is not None and upload.size > self.MAX_FILE_BYTES:
            self.add_error("log_file", _("The file is larger than 200 MB: split the period."))
        return cleaned


class LogSourceForm(forms.Form):
    """Where the gateway's usage log is read; the token is written only, never shown."""

    url = forms.URLField(label=_("Log URL"), required=False, max_length=500,
                         assume_scheme="https",
                         help_text=_("Empty: the gateway's address without /v1, plus "
                                     "/api/log/self."))
    token = forms.CharField(label=_("Access token"), required=False, max_length=500,
                            strip=True, widget=forms.PasswordInput(render_value=False),
                            help_text=_("Empty: keep the stored token."))
    remove_token = forms.BooleanField(label=_("Remove the stored token"), required=False)
    user_id = forms.CharField(label=_("Gateway user id (new-api only)"), required=False,
                              max_length=20)

    def clean_user_id(self):
        value = self.cleaned_data["user_id"].strip()
        if value and not value.isdigit():
            raise forms.ValidationError(_("The gateway's user id is a number."))
        return value

    def token_change(self) -> str | None:
        """The new token, "" to remove it, None to keep it."""
        if self.cleaned_data["remove_token"]:
            return ""
        return self.cleaned_data["token"] or None
