"""The JSON API (/api/v1/): personal-token authenticated, team scoped, errors as
{"error": {"code", "message"}} in the language of Accept-Language. A refusal raised by
a service becomes that error in `token_required`, the one place it is mapped."""

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.api_auth import token_required
from prompts.access import job_for_member
from prompts.api.input import (
    idempotency_key,
    job_spec_from_payload,
    payload_fingerprint,
    read_json,
    usage_period,
)
from prompts.api.schema import openapi_document
from prompts.pipeline.creation import job_create_once, submission_earlier
from prompts.usage.reports import usage_for_user
from prompts.workspace.selectors.jobs import job_as_dict


def _job_accepted(job, *, created: bool) -> JsonResponse:
    """202 for a new job; 200 for the job an Idempotency-Key created before."""
    response = JsonResponse({"id": job.id, "status": job.status}, status=202 if created else 200)
    response["Location"] = reverse("api_job_detail", args=[job.id])
    return response


@require_POST
@token_required
def jobs(request: HttpRequest) -> JsonResponse:
    payload, key = read_json(request), idempotency_key(request)
    fingerprint = payload_fingerprint(payload) if key else ""
    # A repeat is answered before anything is read or stored again (images included).
    earlier = submission_earlier(user=request.user, key=key, fingerprint=fingerprint)
    if earlier is not None:
        return _job_accepted(earlier, created=False)
    project, spec = job_spec_from_payload(user=request.user, payload=payload)
    job, created = job_create_once(user=request.user, project=project, spec=spec, key=key,
                                   fingerprint=fingerprint)
    return _job_accepted(job, created=created)


@require_GET
@token_required
def job_detail(request: HttpRequest, job_id: int) -> JsonResponse:
    return JsonResponse(job_as_dict(job_for_member(request.user, job_id)))


@require_GET
@token_required
def usage(request: HttpRequest) -> JsonResponse:
    since, until = usage_period(request.GET)
    return JsonResponse(usage_for_user(user=request.user, since=since, until=until))


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(server_url=request.build_absolute_uri("/api/v1")))

