"""The JSON API (/api/v1/): personal-token authenticated, team scoped, errors as
{"error": {"code", "message"}} in the language of Accept-Language."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from accounts.api_auth import api_error, token_required
from accounts.selectors import usage_for_user
from prompts.access import job_for_member
from prompts.api_input import ApiInputError, job_spec_from_payload, read_json, usage_period
from prompts.api_schema import openapi_document
from prompts.selectors.jobs import job_as_dict
from prompts.services.jobs import JobRefused, job_create

# Refusals that say "too big" are 413; every other refusal of a well-formed request is 422.
TOO_LARGE_CODES = {"too_many_tokens", "brief_too_long"}


@require_POST
@token_required
def jobs(request: HttpRequest) -> JsonResponse:
    try:
        project, spec = job_spec_from_payload(user=request.user, payload=read_json(request))
        job = job_create(user=request.user, project=project, spec=spec)
    except ApiInputError as error:
        return api_error(error.status, error.code, error.message)
    except JobRefused as refused:
        status = 413 if refused.code in TOO_LARGE_CODES else 422
        return api_error(status, refused.code, refused.message)
    return JsonResponse({"id": job.id, "status": job.status}, status=202)


@require_GET
@token_required
def job_detail(request: HttpRequest, job_id: int) -> JsonResponse:
    return JsonResponse(job_as_dict(job_for_member(request.user, job_id)))


@require_GET
@token_required
def usage(request: HttpRequest) -> JsonResponse:
    try:
        since, until = usage_period(request.GET)
    except ApiInputError as error:
        return api_error(error.status, error.code, error.message)
    return JsonResponse(usage_for_user(user=request.user, since=since, until=until))


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(server_url=request.build_absolute_uri("/api/v1")))

