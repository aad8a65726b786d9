"""Turning JSON API request bodies and query strings into service arguments, or into a
400/413/422 the client can act on (messages in the language of Accept-Language)."""

import base64
import binascii
import hashlib
import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import parse_id
from accounts.models import User
from grokweb.refusals import Refusal
from prompts.access import project_for_member
from prompts.models import GenerationJob, Project
from prompts.pipeline.creation import JobSpec
from prompts.workspace.images import ImageRejected
from prompts.workspace.services.references import reference_create, reference_create_from_url
from prompts.workspace.url_fetch import UrlRefused

DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)
MAX_IMAGES = 8


class ApiInputError(Refusal):
    """A request the API cannot read: its status is 400, 404 or 413 as constructed."""

    def __init__(self, status: int, code: str, message) -> None:
        super().__init__(code, message, status=status)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def read_json(request) -> dict:
    """The body as a JSON object. NaN and Infinity (which Python's reader accepts but JSON
    does not) and nesting too deep to read are a 400 like any other malformed body."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise ApiInputError(413, "too_large", _("The request body is too large.")) from None
    try:
        payload = json.loads(body or b"null", parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiInputError(400, "invalid_json", _("The body must be a JSON object.")) from None
    if not isinstance(payload, dict):
        raise ApiInputError(400, "invalid_json", _("The body must be a JSON object."))
    return payload


MAX_IDEMPOTENCY_KEY_CHARS = 255
_IDEMPOTENCY_KEY = re.compile(rf"^[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY_CHARS}}}$")


def idempotency_key(request) -> str:
    """The `Idempotency-Key` header as the key the creation service remembers ("" when
    absent): printable ASCII, at most 255 characters (a UUID is typical)."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return ""
    if not _IDEMPOTENCY_KEY.match(raw.strip()):
        raise ApiInputError(400, "invalid_idempotency_key",
                            _("Idempotency-Key must be 1 to %(n)s printable ASCII characters, "
                              "e.g. a UUID.") % {"n": MAX_IDEMPOTENCY_KEY_CHARS})
    return "api:" + raw.strip()


def payload_fingerprint(payload: dict) -> str:
    """What a repeat with the same Idempotency-Key must match: the JSON body, whatever its
    key order or spacing."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _invalid(field: str, message) -> ApiInputError:
    return ApiInputError(400, "invalid_field",
                         _("%(field)s: %(message)s") % {"field": field, "message": message})


def project_not_found(value) -> ApiInputError:
    """A project the caller cannot see (missing, or another team's), named in the message."""
    return ApiInputError(404, "not_found", _("No project “%(project)s” in your teams.")
                         % {"project": str(value)[:200]})


def api_project(user: User, value) -> Project:
    """A project of the caller's teams by id or by name; 404 naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "" or (
            isinstance(value, str) and "\x00" in value):
        raise _invalid("project", _("give the project's id or name."))
    if isinstance(value, int) or value.isdigit():
        project_id = parse_id(value)
        if project_id is None:
            raise project_not_found(value)
        try:
            return project_for_member(user, project_id)
        except Http404:
            raise project_not_found(value) from None
    matches = list(Project.objects.filter(team__memberships__user=user, name=value)[:2])
    if not matches:
        raise project_not_found(value)
    if len(matches) > 1:
        raise _invalid("project",
                       _("several of your teams have a project of this name; give its id."))
    return matches[0]


def _temperature(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid("temperature", _("must be a number."))
    try:
        temperature = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise _invalid("temperature", _("must be a number.")) from None
    if not temperature.is_finite():  # "NaN", "Infinity"
        raise _invalid("temperature", _("must be a number."))
    return temperature


def _max_tokens(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("max_tokens", _("must be a whole number."))
    return value


def _image_from_link(user: User, project: Project, url: str):
    """An https image link is fetched here, through the same guard as "add from link" (no
    private, loopback, link-local or metadata address; size and type checked), and stored
    as a reference: the gateway is never handed a link to fetch on our behalf."""
    try:
        return reference_create_from_url(project=project, user=user, url=url)[0]
    except UrlRefused as refused:
        raise ApiInputError(422, f"image_{refused.code}", refused.message) from None
    except ImageRejected as rejected:
        raise ApiInputError(422, f"image_{rejected.code}", rejected.message) from None


def _images(user: User, project: Project, value) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_IMAGES:
        raise _invalid("images", _("must be a list of at most %(n)s images.") % {"n": MAX_IMAGES})
    references = []
    for number, item in enumerate(value, start=1):
        if isinstance(item, str) and item.startswith("https://"):
            references.append(_image_from_link(user, project, item))
            continue
        match = DATA_URL.match(item) if isinstance(item, str) else None
        if match is None:
            raise _invalid("images", _("image %(n)s is neither a data URL nor an https URL.")
                           % {"n": number})
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("images", _("image %(n)s is not valid base64.") % {"n": number}) from None
        try:
            reference, _created = reference_create(project=project, user=user, data=data,
                                                   original_name=f"api-image-{number}")
        except ImageRejected as rejected:
            raise ApiInputError(422, f"image_{rejected.code}", rejected.message) from None
        references.append(reference)
    return references


def job_spec_from_payload(*, user: User, payload: dict) -> tuple[Project, JobSpec]:
    if "project" not in payload:
        raise _invalid("project", _("this field is required."))
    brief = payload.get("brief")
    if not isinstance(brief, str):
        raise _invalid("brief", _("this field is required and must be text."))
    task_type = payload.get("task_type", "balanced")
    if not isinstance(task_type, str):
        raise _invalid("task_type", _("must be strict, balanced or creative."))
    project = api_project(user, payload["project"])
    temperature = _temperature(payload.get("temperature"))
    max_tokens = _max_tokens(payload.get("max_tokens"))
    references = _images(user, project, payload.get("images"))
    return project, JobSpec(brief=brief, task_type=task_type, temperature=temperature,
                            max_tokens=max_tokens, references=references)


def _day(params, name: str, default: date) -> date:
    raw = params.get(name, "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, _("use a date like 2025-01-31.")) from None


def job_list_filters(user: User, params) -> dict:
    """`GET /jobs` query: status, project (id or name), since (a local day), page."""
    filters: dict = {"page": 1}
    status = params.get("status", "")
    if status:
        if status not in GenerationJob.Status.values:
            raise _invalid("status", _("must be one of: %(statuses)s.")
                           % {"statuses": ", ".join(GenerationJob.Status.values)})
        filters["status"] = status
    if params.get("project", ""):
        filters["project"] = api_project(user, params["project"])
    if params.get("since", ""):
        filters["since"] = _day(params, "since", timezone.localdate())
    page = params.get("page", "1")
    if not (page.isdigit() and 0 < len(page) <= 9 and int(page) >= 1):
        raise _invalid("page", _("must be a whole number from 1."))
    filters["page"] = int(page)
    return filters


def usage_period(params) -> tuple[date, date]:
    """`since` defaults to the first of this month, `until` to today (local days)."""
    today = timezone.localdate()
    since = _day(params, "since", today.replace(day=1))
    until = _day(params, "until", today)
    if since > until:
        raise _invalid("since", _("must not be after until."))
    return since, until
