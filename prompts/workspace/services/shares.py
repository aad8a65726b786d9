"""Share links for clients without an account: one approved record, or a project's approved
records. The token is random; only its HMAC under the site's secret key is stored (like
personal API tokens), so the database alone cannot make a working link. The link is
shown once. Expired or revoked, it opens nothing.
"""

import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.logging import register_secret
from accounts.models import User
from accounts.services import audit_record
from grokweb.refusals import Refusal
from prompts.models import Project, PromptRecord, ShareLink

DEFAULT_DAYS = 7
MAX_DAYS = 90
TOKEN_BYTES = 32
PREFIX_CHARS = 6


class ShareRefused(Refusal):
    """A share link that cannot be made."""


def share_token_hmac(token: str) -> str:
    return salted_hmac("grokweb.share_link", token, algorithm="sha256").hexdigest()


def _snapshot(link: ShareLink) -> dict:
    return {"record": link.record_id, "project": link.project_id, "label": link.label,
            "expires_at": link.expires_at.isoformat(), "prefix": link.token_prefix}


def share_link_create(*, user: User, record: PromptRecord | None = None,
                      project: Project | None = None, label: str = "",
                      days: int = DEFAULT_DAYS, ip_address: str | None = None
                      ) -> tuple[ShareLink, str]:
    """The link and its token, which is never stored or shown again."""
    if (record is None) == (project is None):
        raise ValueError("share one record or one project")
    if not 1 <= days <= MAX_DAYS:
        raise ShareRefused("bad_expiry", _("A link can last from 1 to %(max)s days.")
                           % {"max": MAX_DAYS}, field="days")
    if record is not None and record.review_status != PromptRecord.Review.APPROVED:
        raise ShareRefused("not_approved", _(
            "Only approved records can be shared. Submit it for review first."))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    register_secret(token)
    team_id = (record.project if record else project).team_id
    with transaction.atomic():
        link = ShareLink.objects.create(
            team_id=team_id, record=record, project=project, label=label.strip()[:120],
            token_hmac=share_token_hmac(token), token_prefix=token[:PREFIX_CHARS],
            created_by=user, expires_at=timezone.now() + timedelta(days=days))
        audit_record(actor=user, action="share_link.create", target=link,
                     after=_snapshot(link), ip_address=ip_address)
    return link, token


def share_link_revoke(*, link: ShareLink, user: User,
                      ip_address: str | None = None) -> ShareLink:
    with transaction.atomic():
        if ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoked_by=user):
            audit_record(actor=user, action="share_link.revoke", target=link,
                         before=_snapshot(link), ip_address=ip_address)
    link.refresh_from_db()
    return link


def share_link_open(token: str, *, count_view: bool = True) -> ShareLink | None:
    """The live link the token belongs to, with its view counted; None for anything else
    (unknown, expired, revoked). Image requests pass count_view=False."""
    if not 20 <= len(token) <= 100:
        return None
    link = (ShareLink.objects.select_related("record__project", "project")
            .filter(token_hmac=share_token_hmac(token), revoked_at__isnull=True,
                    expires_at__gt=timezone.now())
            .first())
    if link is None:
        return None
    if count_view:
        now = timezone.now()
        ShareLink.objects.filter(pk=link.pk).update(views=F("views") + 1, last_viewed_at=now)
    return link
