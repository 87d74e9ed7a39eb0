"""Dashboard pages of the monitoring app: the overview (and its live fragments) and events.

Each page reads the live seq before its queries, so an event that lands while the page renders
is replayed to it on connect (seen twice at worst, never missed).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from automation_hub.live import live_last_seq
from automation_hub.models import Severity
from hands.selectors import hand_list
from monitoring import page_selectors, selectors
from rendering.timeline import instruction_page_list

PAGE_SIZE = 25


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    context = {
        "live_seq": seq,
        "overview": selectors.dashboard_summary(),
        "series": page_selectors.metric_series(),
        "recent_hands": list(hand_list()[:10]),
        "recent_instructions": list(instruction_page_list()[:10]),
    }
    return render(request, "monitoring/overview.html", context)


@require_GET
@login_required
def overview_summary(request: HttpRequest) -> HttpResponse:
    """The tiles, producer cards and alerts, re-fetched by the page when events arrive."""
    return render(request, "monitoring/_summary.html", {"overview": selectors.dashboard_summary()})


@require_GET
@login_required
def overview_series(request: HttpRequest) -> JsonResponse:
    return JsonResponse(page_selectors.metric_series())


def _event_filters(request: HttpRequest) -> dict[str, str]:
    severity = request.GET.get("severity", "")
    resolved = request.GET.get("resolved", "")
    return {
        "severity": severity if severity in Severity.values else "",
        "resolved": resolved if resolved in ("true", "false") else "",
        "code": request.GET.get("code", "")[:64],
    }


@require_GET
@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    filters = _event_filters(request)
    resolved = {"true": True, "false": False}.get(filters["resolved"])
    events = selectors.event_list(
        severity=filters["severity"] or None, resolved=resolved, code=filters["code"] or None
    )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "live_seq": seq,
        "page_obj": page,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "severities": Severity.choices,
        "codes": page_selectors.event_codes(),
    }
    return render(request, "monitoring/event_list.html", context)
