"""Compare 2–4 records of the team side by side: `/compare/?ids=3,5`."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from prompts.access import records_for_member
from prompts.workspace.selectors.compare import (
    MAX_RECORDS,
    MIN_RECORDS,
    comparison,
    parse_compare_ids,
)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Any record of another team (or none at all) is a 404 for the whole page."""
    ids = parse_compare_ids(request.GET.getlist("ids"))
    if ids is None or not MIN_RECORDS <= len(ids) <= MAX_RECORDS:
        return render(request, "studio/compare.html", {
            "wrong_count": True, "min": MIN_RECORDS, "max": MAX_RECORDS}, status=400)
    records = records_for_member(request.user, ids)
    return render(request, "studio/compare.html", {"c": comparison(records)})
