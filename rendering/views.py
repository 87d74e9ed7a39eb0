"""Dashboard pages of the rendering app: instructions, one hand's chain, outputs and previews."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from automation_hub.live import live_last_seq
from hands.models import Hand
from rendering.models import InstructionStatus, OutputStatus, RenderInstruction, RenderOutput
from rendering.timeline import (
    instruction_page_list,
    instruction_timeline,
    instruction_trigger_types,
    output_gallery,
    output_preview_file,
)

PAGE_SIZE = 25
GALLERY_SIZE = 24


def _instruction_filters(request: HttpRequest) -> dict[str, str]:
    status = request.GET.get("status", "")
    return {
        "status": status if status in InstructionStatus.values else "",
        "template": request.GET.get("template", "").strip()[:128],
        "trigger": request.GET.get("trigger", "").strip()[:32],
    }


@require_GET
@login_required
def instruction_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    filters = _instruction_filters(request)
    rows = instruction_page_list(**filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "live_seq": seq,
        "page_obj": page,
        "first_page": page.number == 1,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "statuses": InstructionStatus.choices,
        "triggers": instruction_trigger_types(),
    }
    return render(request, "rendering/instruction_list.html", context)


@require_GET
@login_required
def instruction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    seq = live_last_seq()
    instruction = get_object_or_404(RenderInstruction.objects.select_related("hand"), pk=pk)
    context = {
        "live_seq": seq,
        "instruction": instruction,
        "outputs": list(instruction.outputs.select_related("instruction")),
        "timeline": instruction_timeline(instruction),
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


@require_GET
@login_required
def output_list(request: HttpRequest) -> HttpResponse:
    seq = live_last_seq()
    page = Paginator(output_gallery(), GALLERY_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "rendering/output_gallery.html",
        {"live_seq": seq, "page_obj": page, "query": ""},
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
