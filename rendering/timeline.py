"""Read queries of the instruction pages: list filters, one instruction's timeline, previews."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from automation_hub.models import LiveEvent, MonitoringEvent
from rendering.models import OutputStatus, RenderInstruction, RenderOutput

PREVIEW_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}


STUCK_NO_PROGRESS = timedelta(minutes=2)


def stuck_condition(*, pending_minutes: int, now: datetime | None = None) -> Q:
    """Stuck: PENDING for longer than `pending_minutes`, or PROCESSING without progress (its
    heartbeat older than the zombie timeout, or still at 0 % STUCK_NO_PROGRESS after its claim)."""
    now = now or timezone.now()
    silent = now - timedelta(seconds=settings.RENDER_ZOMBIE_TIMEOUT_SECONDS)
    return Q(status="pending", created_at__lt=now - timedelta(minutes=pending_minutes)) | (
        Q(status="processing")
        & (
            Q(heartbeat_at__lt=silent)
            | Q(render_progress=0, started_at__lt=now - STUCK_NO_PROGRESS)
        )
    )


def instruction_page_list(
    *,
    status: str | list[str] = "",
    template: str = "",
    trigger: str = "",
    hand_id: int | None = None,
    stuck_minutes: int | None = None,
) -> QuerySet[RenderInstruction]:
    """The instruction list's rows, newest first; stuck ones (`stuck_minutes` given) oldest
    first, the longest waiting on top."""
    rows = RenderInstruction.objects.select_related("hand").order_by("-created_at", "-id")
    statuses = [status] if isinstance(status, str) and status else list(status or [])
    if statuses:
        rows = rows.filter(status__in=statuses)
    if stuck_minutes is not None:
        rows = rows.filter(stuck_condition(pending_minutes=stuck_minutes)).order_by(
            "created_at", "id"
        )
    if template:
        rows = rows.filter(template_name__icontains=template)
    if trigger:
        rows = rows.filter(trigger_type=trigger)
    if hand_id is not None:
        rows = rows.filter(hand_id=hand_id)
    return rows


def instruction_trigger_types() -> list[str]:
    return list(
        RenderInstruction.objects.values_list("trigger_type", flat=True)
        .distinct()
        .order_by("trigger_type")
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # state, beat (heartbeats folded into one), event, audit, output
    title: str
    detail: str = ""


def _state_entries(instruction: RenderInstruction) -> list[TimelineEntry]:
    """Every state the instruction went through, from the live event log (kept for a day)."""
    entries = []
    rows = LiveEvent.objects.filter(
        Q(type="instruction_updated", data__id=instruction.pk)
        | Q(type="render_completed", data__instruction_id=instruction.pk)
    ).order_by("id")
    last: tuple[Any, ...] | None = None
    for row in rows:
        data = row.data
        if row.type == "render_completed":
            entries.append(TimelineEntry(row.created_at, "output", "Output stored"))
            continue
        state = (data.get("status"), data.get("retry_count"), data.get("priority"))
        if last is not None and state == last and data.get("status") == "processing":
            # Heartbeats (one a second or so) fold into one line that shows the latest progress.
            progress = data.get("render_progress") or 0
            beat = TimelineEntry(row.created_at, "beat", f"Rendering … {progress} %", "")
            if entries and entries[-1].kind == "beat":
                entries[-1] = beat
            else:
                entries.append(beat)
            continue
        title = f"Status {data.get('status')}" if state != last else "Updated"
        detail = f"retry {data.get('retry_count')}, priority {data.get('priority')}"
        if data.get("error_message"):
            detail += f" — {data['error_message']}"
        entries.append(TimelineEntry(row.created_at, "state", title, detail))
        last = state
    return entries


def instruction_timeline(instruction: RenderInstruction) -> list[TimelineEntry]:
    """Created, claims, heartbeats, retries, manual actions, events and outputs, oldest first."""
    entries = [TimelineEntry(instruction.created_at, "state", "Created", instruction.created_by)]
    if instruction.started_at:
        entries.append(TimelineEntry(instruction.started_at, "state", "Last claim", ""))
    if instruction.heartbeat_at:
        held = instruction.claimed_by or "worker"
        entries.append(TimelineEntry(instruction.heartbeat_at, "state", "Last heartbeat", held))
    entries += _state_entries(instruction)
    for event in MonitoringEvent.objects.filter(instruction=instruction):
        title = f"{event.severity}: {event.code}"
        entries.append(TimelineEntry(event.created_at, "event", title, event.message))
    # The instruction's whole audit trail, however old (indexed by instruction).
    for audit in instruction.audit_entries.order_by("created_at", "id"):
        entries.append(
            TimelineEntry(
                audit.created_at, "audit", f"{audit.action} by {audit.actor_name}", audit.reason
            )
        )
    for output in instruction.outputs.all():
        entries.append(
            TimelineEntry(
                output.completed_at or output.created_at,
                "output",
                f"Output {output.status}",
                output.output_path,
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


def output_gallery(
    *, template: str = "", status: str = OutputStatus.COMPLETED, hand_id: int | None = None
) -> QuerySet[RenderOutput]:
    """The gallery's outputs, newest first: of one status, narrowed by template and hand."""
    rows = RenderOutput.objects.filter(status=status).select_related("instruction")
    if template:
        rows = rows.filter(instruction__template_name__icontains=template)
    if hand_id is not None:
        rows = rows.filter(instruction__hand_id=hand_id)
    return rows.order_by("-created_at", "-id")


def output_preview_file(output: RenderOutput) -> tuple[Path, str] | None:
    """The image to show for an output, or None. Never a file outside settings.OUTPUT_ROOT.

    A PNG sequence is a folder of frames: its middle frame stands for it (the first one of a
    slide-in is still blank).
    """
    root = Path(settings.OUTPUT_ROOT).resolve()
    path = Path(output.output_path)
    if not path.is_absolute():
        path = root / path
    try:
        path = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root):
        return None
    if path.is_dir():
        frames = sorted(p for p in path.iterdir() if p.suffix.lower() in PREVIEW_SUFFIXES)
        if not frames:
            return None
        path = frames[len(frames) // 2].resolve()
        if not path.is_relative_to(root):
            return None
    if not path.is_file() or path.suffix.lower() not in PREVIEW_SUFFIXES:
        return None
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path, content_type
