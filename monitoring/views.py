"""Dashboard pages of the monitoring app: the overview (and its live fragments) and events.

Each page reads the live seq before its queries, so an event that lands while the page renders
is replayed to it on connect (seen twice at worst, never missed). Templates receive the
selectors' read models as they are (real datetimes, for the `date` filter); only the chart
series is turned into JSON here.
"""

from __future__ import annotations

from dataclasses import asdict
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
from monitoring.selectors.charts import metric_series
from monitoring.selectors.dashboard import dashboard_summary
from monitoring.selectors.events import event_codes
from monitoring.selectors.events import event_list as event_query
from rendering.timeline import instruction_page_list

PAGE_SIZE = 25


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    context = {
        "live_seq": seq,
        "overview": dashboard_summary(),
        "series": asdict(metric_series()),  # for json_script
        "recent_hands": list(hand_list()[:10]),
        "recent_instructions": list(instruction_page_list()[:10]),
    }
    return render(request, "monitoring/overview.html", context)


@require_GET
@login_required
def overview_summary(request: HttpRequest) -> HttpResponse:
    """The tiles, producer cards and alerts, re-fetched by the page when events arrive."""
    return render(request, "monitoring/_summary.html", {"overview": dashboard_summary()})


@require_GET
@login_required
def overview_series(request: HttpRequest) -> JsonResponse:
    return JsonResponse(asdict(metric_series()))


def _event_filters(request: HttpRequest) -> dict[str, str]:
    severity = request.GET.get("severity", "")
    resolved = request.GET.get("resolved", "")
    simulated = request.GET.get("simulated", "")
    return {
        "severity": severity if severity in Severity.values else "",
        "resolved": resolved if resolved in ("true", "false") else "",
        "code": request.GET.get("code", "")[:64],
        # "" = live traffic only (the default), "true" = simulated only, "any" = both.
        "simulated": simulated if simulated in ("true", "any") else "",
    }


@require_GET
@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    filters = _event_filters(request)
    resolved = {"true": True, "false": False}.get(filters["resolved"])
    events = event_query(
        severity=filters["severity"] or None,
        resolved=resolved,
        code=filters["code"] or None,
        simulated={"": False, "true": True}.get(filters["simulated"]),
    )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "live_seq": seq,
        "page_obj": page,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "severities": Severity.choices,
        "codes": event_codes(),
    }
    return render(request, "monitoring/event_list.html", context)
