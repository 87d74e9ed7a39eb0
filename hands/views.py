"""Dashboard page of the hands app: the hand list (one hand's chain to its outputs is the render
queue's page, `rendering.views.hand_detail`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from automation_hub.live import live_last_seq
from hands.selectors import hand_list as hand_query

PAGE_SIZE = 25


@require_GET
@login_required
def hand_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    filters = {
        "table": request.GET.get("table", "").strip()[:32],
        "premium": request.GET.get("premium") == "1",
    }
    hands = hand_query()
    if filters["table"]:
        hands = hands.filter(table_id=filters["table"])
    if filters["premium"]:
        hands = hands.filter(is_premium=True)
    page = Paginator(hands, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: ("1" if v is True else v) for k, v in filters.items() if v})
    context = {
        "live_seq": seq,
        "page_obj": page,
        "filters": filters,
        "query": query,
        # New hands appear live only where they belong: first page, no filter.
        "live_insert": page.number == 1 and not query,
    }
    return render(request, "hands/hand_list.html", context)
