"""Personal-token authentication and the per-token rate limit for the JSON API."""

import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.services import api_token_authenticate
from grokweb.refusals import Refusal

RATE_WINDOW_S = 60


def api_error(status: int, code: str, message, **headers) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def rate_limit_retry_after(token_id: int) -> int:
    """Count this request against the token's fixed one-minute window. Returns 0 when it may
    go ahead, else the seconds until the window ends. The cache is Redis in production, so
    the count is shared by every web process. One round trip once the window has a count."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return 0
    now = time.time()
    window = int(now // RATE_WINDOW_S)
    key = f"api-rate:{token_id}:{window}"
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first request
        count = 1 if cache.add(key, 1, timeout=RATE_WINDOW_S * 2) else cache.incr(key)
    if count <= limit:
        return 0
    return max(1, int((window + 1) * RATE_WINDOW_S - now + 0.999))


def token_required(view):
    """Authenticate with `Authorization: Bearer <token>`, rate-limit per token, set
    request.user and request.api_token. CSRF does not apply: no cookie is involved."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        token = api_token_authenticate(plaintext=_bearer(request))
        if token is None:
            return api_error(401, "unauthorized",
                             _("Send a valid personal API token: Authorization: Bearer <token>."),
                             WWW_Authenticate='Bearer realm="grokweb"')
        retry_after = rate_limit_retry_after(token.id)
        if retry_after:
            return api_error(429, "rate_limited",
                             _("Too many requests with this token. Try again in %(seconds)s "
                               "seconds.") % {"seconds": retry_after},
                             Retry_After=str(retry_after))
        request.user = token.user
        request.api_token = token
        try:
            return view(request, *args, **kwargs)
        except Refusal as refused:
            return api_error(refused.status, refused.code, refused.message)
        except Http404:
            # Another team's object and a missing one look the same.
            return api_error(404, "not_found", _("Not found."))

    return wrapper
