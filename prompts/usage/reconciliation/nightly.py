"""Beat's nightly reconciliation: yesterday against the gateway's log, once, when a log
source is configured; site admins get an e-mail when the difference is above
RECONCILE_ALERT_RMB or the log could not be read."""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from prompts.models import ReconciliationRun

from .runs import reconciliation_run
from .source import log_source

logger = logging.getLogger(__name__)


def reconcile_yesterday(*, today: date | None = None) -> ReconciliationRun | None:
    """Reconcile yesterday (local) unless no log token is set or it was done already.
    Returns the run, or None when there was nothing to do."""
    if not log_source().configured:
        return None
    day = (today or timezone.localdate()) - timedelta(days=1)
    done = ReconciliationRun.objects.filter(since=day, until=day, trigger="nightly",
                                            status=ReconciliationRun.Status.OK)
    if done.exists():
        return None
    run = reconciliation_run(since=day, until=day, trigger="nightly")
    failed = run.status == ReconciliationRun.Status.FAILED
    if failed or abs(run.difference) > settings.RECONCILE_ALERT_RMB:
        _alert(run)
    return run


def _alert(run: ReconciliationRun) -> None:
    values = {"day": run.since.isoformat(), "difference": f"{run.difference:.6f}",
              "gateway": f"{run.yuan_gateway:.6f}", "ledger": f"{run.yuan_ledger:.6f}",
              "threshold": settings.RECONCILE_ALERT_RMB,
              "url": settings.SITE_URL + reverse("reconciliation_detail", args=[run.pk])}
    if run.status == ReconciliationRun.Status.FAILED:
        subject = _("GrokWeb: the reconciliation of %(day)s failed") % values
        body = _("The gateway's usage log could not be read: %(error)s\n\nNothing was "
                 "settled. %(url)s") % {**values, "error": run.error}
    else:
        subject = _("GrokWeb: the gateway's bill and the ledger differ by ¥%(difference)s "
                    "on %(day)s") % values
        body = _(
            "Gateway ¥%(gateway)s, ledger ¥%(ledger)s, difference ¥%(difference)s (alert "
            "above ¥%(threshold)s).\n\nMatched %(matched)s calls; token drift %(drift)s, "
            "billed by the gateway only %(gateway_only)s, in the ledger only %(ledger_only)s, "
            "unconfirmed calls settled %(settled)s.\n\nEvery call that differs: %(url)s"
        ) % {**values, "matched": run.matched, "drift": run.token_drift,
             "gateway_only": run.gateway_only, "ledger_only": run.ledger_only,
             "settled": run.settled_unknown}
    logger.warning("%s", subject)
    recipients = list(User.objects.filter(is_staff=True, is_active=True).exclude(email="")
                      .values_list("email", flat=True))
    if recipients:
        send_mail(subject, body, None, recipients, fail_silently=True)
