"""One-time keys: a form's submission token or an API Idempotency-Key creates at most one job
(or batch); sending it again returns what the first one created."""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from prompts.models import Batch, GenerationJob, Project, SubmissionKey
from prompts.pipeline.creation import JobRefused, JobSpec, batch_create, job_create

# How long a submission token or an API Idempotency-Key stands for the job it created.
SUBMISSION_KEY_HOURS = 24


def submission_earlier(*, user: User, key: str, fingerprint: str = "") -> GenerationJob | Batch | None:
    """The job or batch `key` created in the last SUBMISSION_KEY_HOURS, else None. A key
    sent again with another request (a different `fingerprint`) is refused."""
    if not key:
        return None
    found = SubmissionKey.objects.select_related("job", "batch").filter(user=user, key=key).first()
    if found is None:
        return None
    if found.created_at < _expiry(timezone.now()):
        # Beat's sweep had not removed it yet: it stands for nothing now.
        SubmissionKey.objects.filter(pk=found.pk).delete()
        return None
    if fingerprint and found.fingerprint != fingerprint:
        raise JobRefused(
            "idempotency_key_reused",
            _("This Idempotency-Key was sent with a different request in the last %(hours)s "
              "hours. Use a new key for a new job.") % {"hours": SUBMISSION_KEY_HOURS},
        )
    return found.job or found.batch


def _expiry(now: datetime) -> datetime:
    return now - timedelta(hours=SUBMISSION_KEY_HOURS)


def submission_keys_expire(now: datetime) -> int:
    """Beat's sweep: forget the keys older than SUBMISSION_KEY_HOURS."""
    return SubmissionKey.objects.filter(created_at__lt=_expiry(now)).delete()[0]


def _create_once(*, user: User, key: str, fingerprint: str, create: Callable, field: str):
    earlier = submission_earlier(user=user, key=key, fingerprint=fingerprint)
    if earlier is not None:
        return earlier, False
    try:
        # The key row commits with what it created, or neither does: a concurrent repeat
        # (a double click 30 ms later) waits on the unique (user, key) and then finds it.
        with transaction.atomic():
            made = create()
            SubmissionKey.objects.create(user=user, key=key, fingerprint=fingerprint,
                                         **{field: made})
    except IntegrityError:
        earlier = submission_earlier(user=user, key=key, fingerprint=fingerprint)
        if earlier is None:
            raise
        return earlier, False
    return made, True


def job_create_once(
    *, user: User, project: Project, spec: JobSpec, key: str, fingerprint: str = "",
    parent: GenerationJob | None = None,
) -> tuple[GenerationJob, bool]:
    """job_create, at most once per `key` (a form's submission token, an API
    Idempotency-Key): returns (job, created); a repeat returns the first job. No key: an
    ordinary job_create."""
    if not key:
        return job_create(user=user, project=project, spec=spec, parent=parent), True
    return _create_once(user=user, key=key, fingerprint=fingerprint, field="job", create=lambda:
                        job_create(user=user, project=project, spec=spec, parent=parent))


def batch_create_once(
    *, user: User, project: Project, specs: Sequence[JobSpec], title: str = "", key: str,
) -> tuple[Batch, bool]:
    """batch_create, at most once per the batch form's submission token."""
    if not key:
        return batch_create(user=user, project=project, specs=specs, title=title), True
    return _create_once(user=user, key=key, fingerprint="", field="batch", create=lambda:
                        batch_create(user=user, project=project, specs=specs, title=title))
