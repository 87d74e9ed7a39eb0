"""Dashboard pages of the rendering app: instructions, one hand's chain, outputs and previews."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from automation_hub.live import live_last_seq
from hands.models import Hand
from rendering.models import InstructionStatus, OutputStatus, RenderInstruction, RenderOutput
from rendering.renderers.capabilities import capabilities_for
from rendering.services.transitions import manual
from rendering.timeline import (
    instruction_page_list,
    instruction_timeline,
    instruction_trigger_types,
    output_gallery,
    output_preview_file,
)

PAGE_SIZE = 25
ACTION_LABELS = {
    "edit-retry": "Edit & retry…",
    "retry": "Retry…",
    "change-priority": "Change priority…",
    "cancel": "Cancel…",
}
GALLERY_SIZE = 24


def _instruction_filters(request: HttpRequest) -> dict[str, Any]:
    """The list's filters from the query string: several `status` values, and `stuck` (pending
    longer than `stuck_minutes`, default MONITOR_DELAYED_PENDING_MINUTES, or processing without
    progress)."""
    statuses = [s for s in request.GET.getlist("status") for s in s.split(",")]
    try:
        minutes = int(request.GET.get("stuck_minutes", ""))
    except ValueError:
        minutes = settings.MONITOR_DELAYED_PENDING_MINUTES
    return {
        "status": [s for s in dict.fromkeys(statuses) if s in InstructionStatus.values],
        "template": request.GET.get("template", "").strip()[:128],
        "trigger": request.GET.get("trigger", "").strip()[:32],
        "stuck": request.GET.get("stuck", "") in ("1", "true", "on"),
        "stuck_minutes": max(1, min(minutes, 24 * 60)),
    }


def _query(filters: dict[str, Any]) -> str:
    pairs: list[tuple[str, Any]] = [("status", s) for s in filters["status"]]
    pairs += [(k, filters[k]) for k in ("template", "trigger") if filters[k]]
    if filters["stuck"]:
        pairs += [("stuck", "1"), ("stuck_minutes", filters["stuck_minutes"])]
    return urlencode(pairs)


@require_GET
@login_required
def instruction_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    filters = _instruction_filters(request)
    rows = instruction_page_list(
        status=filters["status"],
        template=filters["template"],
        trigger=filters["trigger"],
        stuck_minutes=filters["stuck_minutes"] if filters["stuck"] else None,
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "live_seq": seq,
        "page_obj": page,
        # New rows go on top of the first page of a newest-first list (never of "stuck").
        "first_page": page.number == 1 and not filters["stuck"],
        "filters": filters,
        "status_filter": ",".join(filters["status"]),
        "query": _query(filters),
        "statuses": InstructionStatus.choices,
        "triggers": instruction_trigger_types(),
    }
    return render(request, "rendering/instruction_list.html", context)


@require_GET
@login_required
def instruction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    seq = live_last_seq()
    instruction = get_object_or_404(RenderInstruction.objects.select_related("hand"), pk=pk)
    rules = manual.page_action_rules()
    context = {
        "live_seq": seq,
        "instruction": instruction,
        "outputs": list(instruction.outputs.select_related("instruction")),
        "timeline": instruction_timeline(instruction),
        "actions": [
            {
                "name": name,
                "label": label,
                "why_not": rules[name]["why_not"].get(instruction.status, ""),
            }
            for name, label in ACTION_LABELS.items()
        ],
        "action_rules": rules,
        "capabilities": capabilities_for().as_dict(),
    }
    return render(request, "rendering/instruction_detail.html", context)


@require_GET
@login_required
def hand_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One hand's chain: the hand, its instructions and their completed outputs."""
    seq = live_last_seq()
    hand = get_object_or_404(Hand.objects.select_related("tournament"), pk=pk)
    outputs = RenderOutput.objects.filter(
        instruction__hand=hand, status=OutputStatus.COMPLETED
    ).select_related("instruction")
    context = {
        "live_seq": seq,
        "hand": hand,
        "instructions": list(instruction_page_list(hand_id=hand.pk)),
        "outputs": list(outputs),
    }
    return render(request, "hands/hand_detail.html", context)


def _gallery_filters(request: HttpRequest) -> dict[str, Any]:
    status = request.GET.get("status", OutputStatus.COMPLETED)
    try:
        hand = int(request.GET.get("hand", "")) or None
    except ValueError:
        hand = None
    return {
        "template": request.GET.get("template", "").strip()[:128],
        "status": status if status in OutputStatus.values else OutputStatus.COMPLETED,
        "hand": hand,
    }


@require_GET
@login_required
def output_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    filters = _gallery_filters(request)
    rows = output_gallery(
        template=filters["template"], status=filters["status"], hand_id=filters["hand"]
    )
    page = Paginator(rows, GALLERY_SIZE).get_page(request.GET.get("page"))
    chosen = {k: v for k, v in filters.items() if v and v != OutputStatus.COMPLETED}
    return render(
        request,
        "rendering/output_gallery.html",
        {
            "live_seq": seq,
            "page_obj": page,
            "filters": filters,
            "statuses": OutputStatus.choices,
            "query": urlencode(chosen),
        },
    )


@require_GET
@login_required
def output_preview(request: HttpRequest, pk: int) -> FileResponse:
    """The output's image, read from under settings.OUTPUT_ROOT only (404 otherwise)."""
    output = get_object_or_404(RenderOutput, pk=pk)
    found = output_preview_file(output)
    if found is None:
        raise Http404("This output has no image preview.")
    path, content_type = found
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
