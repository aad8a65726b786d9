"""The JSON API (/api/v1/): personal-token authenticated, team scoped, errors as
{"error": {"code", "message"}} in the language of Accept-Language. A refusal raised by
a service becomes that error in `token_required`, the one place it is mapped."""

from django.core.paginator import Paginator
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.api_auth import token_required
from prompts.access import job_for_member
from prompts.api.input import (
    ApiInputError,
    idempotency_key,
    job_list_filters,
    job_spec_from_payload,
    payload_fingerprint,
    read_json,
    usage_period,
)
from prompts.api.schema import openapi_document
from prompts.pipeline.submissions import job_create_once, submission_earlier
from prompts.usage.reports import usage_for_user
from prompts.workspace.selectors.jobs import job_as_dict, job_summary_dict, jobs_of_user

JOBS_PER_PAGE = 50


def _job_accepted(job, *, created: bool) -> JsonResponse:
    """202 for a new job; 200 for the job an Idempotency-Key created before. `Location` is
    the job's URL either way."""
    response = JsonResponse({"id": job.id, "status": job.status}, status=202 if created else 200)
    response["Location"] = reverse("api_job_detail", args=[job.id])
    return response


@require_http_methods(["GET", "POST"])
@token_required
def jobs(request: HttpRequest) -> JsonResponse:
    """GET lists the caller's jobs; POST queues one."""
    if request.method == "GET":
        return _job_list(request)
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


def _job_list(request: HttpRequest) -> JsonResponse:
    filters = job_list_filters(request.user, request.GET)
    number = filters.pop("page")
    paginator = Paginator(jobs_of_user(user_id=request.user.id, **filters), JOBS_PER_PAGE)
    if number > paginator.num_pages:  # an empty list still has its page 1
        raise ApiInputError(404, "not_found", _("There is no page %(page)s: the last is %(last)s.")
                            % {"page": number, "last": paginator.num_pages})
    page = paginator.page(number)

    def link(to: int) -> str:
        query = request.GET.copy()
        query["page"] = str(to)
        return request.build_absolute_uri(f"{reverse('api_jobs')}?{query.urlencode()}")

    return JsonResponse({
        "count": paginator.count, "page": number, "pages": paginator.num_pages,
        "next": link(number + 1) if page.has_next() else None,
        "previous": link(number - 1) if page.has_previous() else None,
        "results": [job_summary_dict(job) for job in page.object_list],
    })


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
