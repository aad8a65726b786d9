"""Telling site admins when the gateway stops working for everyone (key refused, no balance)."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail

from accounts.models import User

logger = logging.getLogger(__name__)

SUBJECTS = {
    "key": "GrokWeb: the gateway refused the active API key — jobs are waiting",
    "balance": "GrokWeb: the gateway balance is exhausted — dispatch is paused",
}
# One e-mail per kind of outage per hour, however many jobs run into it.
ALERT_EVERY_S = 3600


def alert_site_admins(*, kind: str, detail: str) -> bool:
    if not cache.add(f"alert:{kind}", 1, timeout=ALERT_EVERY_S):
        return False
    recipients = list(
        User.objects.filter(is_staff=True, is_active=True).exclude(email="")
        .values_list("email", flat=True)
    )
    logger.error("%s (%s)", SUBJECTS[kind], detail[:200])
    if recipients:
        body = (
            f"{SUBJECTS[kind]}.\n\nGateway said: {detail[:500]}\n\n"
            f"Open {settings.SITE_URL}/console/ to act; waiting jobs resume by themselves "
            "once it is fixed."
        )
        send_mail(SUBJECTS[kind], body, None, recipients, fail_silently=True)
    return True
