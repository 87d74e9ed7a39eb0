"""Reads of the monitoring side: metrics over time windows, the dashboard summary, data flow.

Every figure is computed from the rows (instructions, hands, outputs, events, API keys), so it
is the same whichever process asks. Time series are one aggregate query each: one filtered
COUNT per bucket over an index range scan, not one query per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from automation_hub.models import ApiKey, ProducerRole
from hands.models import Hand
from monitoring.models import MonitoringEvent, Severity
from rendering.models import InstructionStatus, OutputStatus, RenderInstruction, RenderOutput


@dataclass(frozen=True)
class Window:
    name: str
    length: timedelta
    bucket: timedelta

    @property
    def buckets(self) -> int:
        return int(self.length / self.bucket)


WINDOWS: dict[str, Window] = {
    "15m": Window("15m", timedelta(minutes=15), timedelta(minutes=1)),
    "1h": Window("1h", timedelta(hours=1), timedelta(minutes=5)),
    "24h": Window("24h", timedelta(hours=24), timedelta(hours=1)),
}


def window_get(name: str) -> Window:
    """The window called `name`; KeyError for an unknown one (the API validates first)."""
    return WINDOWS[name]


def _bucket_edges(window: Window, now: datetime) -> list[tuple[datetime, datetime]]:
    start = now - window.length
    return [
        (start + i * window.bucket, start + (i + 1) * window.bucket) for i in range(window.buckets)
    ]


def _bucketed_counts(
    queryset: QuerySet, field: str, edges: list[tuple[datetime, datetime]]
) -> list[int]:
    aggregates = {
        f"b{i}": Count("pk", filter=Q(**{f"{field}__gte": lo, f"{field}__lt": hi}))
        for i, (lo, hi) in enumerate(edges)
    }
    row = queryset.filter(**{f"{field}__gte": edges[0][0], f"{field}__lt": edges[-1][1]}).aggregate(
        **aggregates
    )
    return [row[f"b{i}"] for i in range(len(edges))]


def _completed() -> QuerySet[RenderInstruction]:
    return RenderInstruction.objects.filter(status=InstructionStatus.COMPLETED)


def _failed() -> QuerySet[RenderInstruction]:
    # The queue stamps completed_at on a failed attempt too, so both share the time axis.
    return RenderInstruction.objects.filter(status=InstructionStatus.FAILED)


def completions_between(start: datetime, end: datetime) -> int:
    return _completed().filter(completed_at__gte=start, completed_at__lt=end).count()


def metrics_throughput(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """Completed instructions in the window, per hour, and a count per bucket."""
    now = now or timezone.now()
    edges = _bucket_edges(window, now)
    counts = _bucketed_counts(_completed(), "completed_at", edges)
    total = sum(counts)
    return {
        "window": window.name,
        "value": total,
        "per_hour": round(total / (window.length / timedelta(hours=1)), 2),
        "unit": "instructions",
        "bucket_seconds": int(window.bucket.total_seconds()),
        "series": [
            {"start": lo.isoformat(), "value": count}
            for (lo, _), count in zip(edges, counts, strict=True)
        ],
    }


_DURATION = ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField())


def _percentile(rows: QuerySet[RenderInstruction], count: int, fraction: float) -> float | None:
    """Nearest-rank percentile in seconds, read with one ORDER BY … OFFSET query (the same
    SQL on SQLite and PostgreSQL)."""
    if count == 0:
        return None
    rank = max(0, min(count - 1, int(fraction * count + 0.999999) - 1))
    value = (
        rows.annotate(duration=_DURATION)
        .order_by("duration")
        .values_list("duration", flat=True)[rank]
    )
    return round(value.total_seconds(), 3)


def _seconds(total: timedelta | None, count: int) -> float | None:
    return round(total.total_seconds() / count, 3) if total is not None and count else None


def latency_stats(*, start: datetime, end: datetime) -> dict[str, Any]:
    """created → completed of instructions completed in [start, end): count, avg, p50, p95."""
    rows = _completed().filter(completed_at__gte=start, completed_at__lt=end)
    summary = rows.aggregate(count=Count("pk"), total=Sum(_DURATION))
    count = summary["count"]
    return {
        "count": count,
        "avg_seconds": _seconds(summary["total"], count),
        "p50_seconds": _percentile(rows, count, 0.50),
        "p95_seconds": _percentile(rows, count, 0.95),
    }


def metrics_latency(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """p50/p95/avg latency (created → completed) over the window; count and avg per bucket."""
    now = now or timezone.now()
    stats = latency_stats(start=now - window.length, end=now)
    edges = _bucket_edges(window, now)
    aggregates: dict[str, Any] = {}
    for i, (lo, hi) in enumerate(edges):
        in_bucket = Q(completed_at__gte=lo, completed_at__lt=hi)
        aggregates[f"n{i}"] = Count("pk", filter=in_bucket)
        aggregates[f"t{i}"] = Sum(_DURATION, filter=in_bucket)
    row = (
        _completed()
        .filter(completed_at__gte=edges[0][0], completed_at__lt=now)
        .aggregate(**aggregates)
    )
    series = [
        {
            "start": lo.isoformat(),
            "count": row[f"n{i}"],
            "avg_seconds": _seconds(row[f"t{i}"], row[f"n{i}"]),
        }
        for i, (lo, _) in enumerate(edges)
    ]
    return {
        "window": window.name,
        "value": stats["p50_seconds"],
        "unit": "seconds",
        **stats,
        "bucket_seconds": int(window.bucket.total_seconds()),
        "series": series,
    }


def error_rate_between(start: datetime, end: datetime) -> tuple[int, int]:
    """(failed, finished) among instructions that finished in [start, end)."""
    row = RenderInstruction.objects.filter(
        status__in=[InstructionStatus.COMPLETED, InstructionStatus.FAILED],
        completed_at__gte=start,
        completed_at__lt=end,
    ).aggregate(
        failed=Count("pk", filter=Q(status=InstructionStatus.FAILED)),
        finished=Count("pk"),
    )
    return row["failed"], row["finished"]


def metrics_error_rate(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """Failed share of finished instructions (completed + failed) in the window and per bucket."""
    now = now or timezone.now()
    edges = _bucket_edges(window, now)
    failed_counts = _bucketed_counts(_failed(), "completed_at", edges)
    completed_counts = _bucketed_counts(_completed(), "completed_at", edges)
    failed, finished = sum(failed_counts), sum(failed_counts) + sum(completed_counts)
    series = []
    for (lo, _), f, c in zip(edges, failed_counts, completed_counts, strict=True):
        series.append(
            {"start": lo.isoformat(), "failed": f, "finished": f + c, "value": _ratio(f, f + c)}
        )
    return {
        "window": window.name,
        "value": _ratio(failed, finished),
        "unit": "ratio",
        "failed": failed,
        "finished": finished,
        "bucket_seconds": int(window.bucket.total_seconds()),
        "series": series,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def metrics_queue_depth(*, now: datetime | None = None) -> dict[str, Any]:
    """Rows waiting and running now, PENDING by priority, and the oldest PENDING row's age."""
    now = now or timezone.now()
    active = [InstructionStatus.PENDING, InstructionStatus.PROCESSING, InstructionStatus.STALE]
    by_status = dict(
        RenderInstruction.objects.filter(status__in=active)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    pending = RenderInstruction.objects.filter(status=InstructionStatus.PENDING)
    by_priority = dict(pending.values_list("priority").annotate(n=Count("pk")).order_by())
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    return {
        "pending": by_status.get(InstructionStatus.PENDING, 0),
        "processing": by_status.get(InstructionStatus.PROCESSING, 0),
        "stale": by_status.get(InstructionStatus.STALE, 0),
        "pending_by_priority": {str(p): n for p, n in sorted(by_priority.items())},
        "oldest_pending_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


# --------------------------------------------------------------------------------------------------
# Data-flow health
# --------------------------------------------------------------------------------------------------


def orphan_hands(*, now: datetime | None = None) -> QuerySet[Hand]:
    """Premium hands past the grace period that have no instruction at all."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.MONITOR_ORPHAN_GRACE_SECONDS)
    # NOT EXISTS: an anti-join on the instructions' hand index, not a hashed million-row NOT IN.
    return Hand.objects.filter(is_premium=True, created_at__lte=now - grace).filter(
        ~Exists(RenderInstruction.objects.filter(hand_id=OuterRef("pk")))
    )


def delayed_instructions(*, now: datetime | None = None) -> QuerySet[RenderInstruction]:
    """PENDING rows older than the delay threshold (created_at, not updated_at: a retried row
    counts from its creation, as the viewer waits since then)."""
    now = now or timezone.now()
    limit = now - timedelta(minutes=settings.MONITOR_DELAYED_PENDING_MINUTES)
    return RenderInstruction.objects.filter(status=InstructionStatus.PENDING, created_at__lte=limit)


def completion_rate(*, now: datetime | None = None) -> float | None:
    """Share of the last 24 hours' instructions (cancelled ones aside) that are COMPLETED."""
    now = now or timezone.now()
    row = (
        RenderInstruction.objects.filter(created_at__gte=now - timedelta(hours=24))
        .exclude(status=InstructionStatus.CANCELLED)
        .aggregate(
            total=Count("pk"), completed=Count("pk", filter=Q(status=InstructionStatus.COMPLETED))
        )
    )
    return _ratio(row["completed"], row["total"])


# --------------------------------------------------------------------------------------------------
# Producers and the dashboard
# --------------------------------------------------------------------------------------------------


def _start_of_today(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _key_last_used(role: str) -> datetime | None:
    return ApiKey.objects.filter(role=role).aggregate(last=Max("last_used_at"))["last"]


def producer_status(last_activity: datetime | None, now: datetime) -> str:
    """`active` within the stale threshold, `stale` past it, `idle` when never seen."""
    if last_activity is None:
        return "idle"
    stale_after = timedelta(seconds=settings.MONITOR_PRODUCER_STALE_SECONDS)
    return "active" if now - last_activity <= stale_after else "stale"


def open_circuits() -> list[str]:
    """Render backends whose circuit breaker is not closed (none before the queue ships it)."""
    try:
        breaker = apps.get_model("rendering", "CircuitBreaker")
    except LookupError:
        return []
    return list(breaker.objects.exclude(state="closed").values_list("backend", flat=True))


def _worker_status(now: datetime) -> dict[str, Any]:
    stale_after = now - timedelta(seconds=settings.MONITOR_PRODUCER_STALE_SECONDS)
    processing = RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING)
    return {
        "processing": processing.count(),
        "workers": processing.exclude(claimed_by="")
        .filter(heartbeat_at__gte=stale_after)
        .values("claimed_by")
        .distinct()
        .count(),
        "open_circuits": open_circuits(),
    }


def projects_summary(*, now: datetime | None = None) -> dict[str, Any]:
    """The three producers, each with a status derived from what it last did."""
    now = now or timezone.now()
    today = _start_of_today(now)

    hands_last = Hand.objects.aggregate(last=Max("created_at"))["last"]
    feature_last = _latest(hands_last, _key_last_used(ProducerRole.FEATURE_TABLE))

    sub_rows = RenderInstruction.objects.exclude(trigger_type__in=["premium_hand", "orphan_hand"])
    sub_last = _latest(
        sub_rows.aggregate(last=Max("created_at"))["last"], _key_last_used(ProducerRole.SUB)
    )

    ae_last = _latest(
        # Only held rows heartbeat; the partial index on PROCESSING rows answers this.
        RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING).aggregate(
            last=Max("heartbeat_at")
        )["last"],
        RenderOutput.objects.aggregate(last=Max("created_at"))["last"],
        _key_last_used(ProducerRole.AE),
    )
    worker = _worker_status(now)
    ae_status = producer_status(ae_last, now)
    if worker["open_circuits"]:
        ae_status = "degraded"
    return {
        "feature_table": {
            "status": producer_status(feature_last, now),
            "last_activity": _iso(feature_last),
            "hands_today": Hand.objects.filter(created_at__gte=today).count(),
        },
        "sub": {
            "status": producer_status(sub_last, now),
            "last_activity": _iso(sub_last),
            "instructions_created": RenderInstruction.objects.filter(created_at__gte=today).count(),
        },
        "ae": {
            "status": ae_status,
            "last_activity": _iso(ae_last),
            "worker_status": worker,
            "outputs_completed": RenderOutput.objects.filter(
                status=OutputStatus.COMPLETED, created_at__gte=today
            ).count(),
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def open_alerts() -> QuerySet[MonitoringEvent]:
    return MonitoringEvent.objects.filter(
        resolved=False, severity__in=Severity.at_least(Severity.WARNING)
    )


def dashboard_summary(*, now: datetime | None = None, alert_limit: int = 20) -> dict[str, Any]:
    """The body of `GET /api/dashboard` (SPEC §5)."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    failed, finished = error_rate_between(hour_ago, now)
    depth = metrics_queue_depth(now=now)
    alerts = [
        {
            "id": e.pk,
            "code": e.code,
            "severity": e.severity,
            "message": e.message,
            "instruction_id": e.instruction_id,
            "hand_id": e.hand_id,
            "created_at": e.created_at.isoformat(),
        }
        for e in open_alerts()[:alert_limit]
    ]
    return {
        "projects": projects_summary(now=now),
        "metrics": {
            "throughput_1h": completions_between(hour_ago, now),
            "avg_latency_1h": latency_stats(start=hour_ago, end=now)["avg_seconds"],
            "error_rate_1h": _ratio(failed, finished),
            "queue_depth": {"pending": depth["pending"], "processing": depth["processing"]},
        },
        "active_alerts": alerts,
        "data_flow_health": {
            "orphan_hands": orphan_hands(now=now).count(),
            "delayed_instructions": delayed_instructions(now=now).count(),
            "completion_rate": completion_rate(now=now),
        },
    }


# --------------------------------------------------------------------------------------------------
# One hand's story
# --------------------------------------------------------------------------------------------------


def data_flow(*, hand: Hand) -> dict[str, Any]:
    """The hand, its instructions and outputs, the status chain, and its correlated events."""
    instructions = list(RenderInstruction.objects.filter(hand=hand).order_by("created_at", "id"))
    outputs = list(RenderOutput.objects.filter(instruction__hand=hand).order_by("created_at", "id"))
    correlation_ids = {hand.correlation_id, *(i.correlation_id for i in instructions)}
    events = list(
        MonitoringEvent.objects.filter(
            Q(correlation_id__in=correlation_ids)
            | Q(hand=hand)
            | Q(instruction__in=[i.pk for i in instructions])
        ).order_by("created_at", "id")
    )
    chain: list[dict[str, Any]] = [
        {"stage": "hand", "id": hand.pk, "status": "received", "at": _iso(hand.created_at)}
    ]
    for instruction in instructions:
        chain.append(
            {
                "stage": "instruction",
                "id": instruction.pk,
                "status": instruction.status,
                "at": _iso(instruction.completed_at or instruction.updated_at),
            }
        )
    for output in outputs:
        chain.append(
            {
                "stage": "output",
                "id": output.pk,
                "instruction_id": output.instruction_id,
                "status": output.status,
                "at": _iso(output.completed_at or output.created_at),
            }
        )
    return {
        "hand": hand,
        "instructions": instructions,
        "outputs": outputs,
        "status_chain": chain,
        "events": events,
        "complete": _flow_complete(hand, instructions, outputs),
    }


def _flow_complete(
    hand: Hand, instructions: list[RenderInstruction], outputs: list[RenderOutput]
) -> bool:
    """A premium hand is complete once one of its instructions has a completed output."""
    if not hand.is_premium and not instructions:
        return True
    return any(o.status == OutputStatus.COMPLETED for o in outputs)


def event_list(
    *, severity: str | None = None, resolved: bool | None = None, code: str | None = None
) -> QuerySet[MonitoringEvent]:
    """Events newest first, optionally narrowed (the events page's filters)."""
    events = MonitoringEvent.objects.select_related("instruction", "hand").order_by(
        "-created_at", "-id"
    )
    if severity:
        events = events.filter(severity=severity)
    if resolved is not None:
        events = events.filter(resolved=resolved)
    if code:
        events = events.filter(code=code)
    return events


# --------------------------------------------------------------------------------------------------
# Orchestrator blocks (SPEC §6)
# --------------------------------------------------------------------------------------------------

_PRODUCER_BLOCK_STATUS = {"active": "in_progress", "idle": "idle", "stale": "partial"}
_HEALTH_ORDER = ("failed", "partial", "in_progress", "completed", "idle")


def _block(
    name: str,
    status: str,
    last_activity: datetime | None,
    *,
    last_error: str = "",
    processed: int = 0,
    total: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "last_activity": _iso(last_activity),
        "last_error": last_error,
        "items_processed": processed,
        "items_total": total,
        **extra,
    }


def _breaker_blocks() -> list[dict[str, Any]]:
    try:
        breaker = apps.get_model("rendering", "CircuitBreaker")
    except LookupError:
        return []
    return [
        _block(
            f"renderer:{b.backend}",
            "completed" if b.state == "closed" else ("failed" if b.state == "open" else "partial"),
            b.updated_at,
            last_error=b.last_error,
            circuit=b.state,
        )
        for b in breaker.objects.all()
    ]


def orchestrator_blocks(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every block: producers and the queue derived from their rows, the rest from BlockState."""
    from monitoring.models import BlockState

    now = now or timezone.now()
    today = _start_of_today(now)
    projects = projects_summary(now=now)
    blocks = []
    for name, project in projects.items():
        health = project["status"]
        blocks.append(
            _block(
                f"producer:{name}",
                "failed" if health == "degraded" else _PRODUCER_BLOCK_STATUS[health],
                datetime.fromisoformat(project["last_activity"])
                if project["last_activity"]
                else None,
                health=health,
            )
        )
    blocks[0]["name"] = "ingest"  # the feature tables feed the ingest block
    depth = metrics_queue_depth(now=now)
    created_today = RenderInstruction.objects.filter(created_at__gte=today)
    delayed = delayed_instructions(now=now).count()
    busy = depth["pending"] + depth["processing"]
    blocks.append(
        _block(
            "render_queue",
            "partial" if delayed else ("in_progress" if busy else "idle"),
            RenderInstruction.objects.aggregate(last=Max("updated_at"))["last"],
            last_error=f"{delayed} instruction(s) pending too long" if delayed else "",
            processed=created_today.filter(status=InstructionStatus.COMPLETED).count(),
            total=created_today.count(),
        )
    )
    blocks.extend(_breaker_blocks())
    for state in BlockState.objects.all():
        blocks.append(
            _block(
                state.name,
                state.status,
                state.last_activity,
                last_error=state.last_error,
                processed=state.items_processed,
                total=state.items_total,
            )
        )
    return blocks


def orchestrator_status(*, now: datetime | None = None) -> dict[str, Any]:
    from django_q.models import Schedule

    from monitoring.models import SyncRun, SyncType

    blocks = orchestrator_blocks(now=now)
    statuses = {b["status"] for b in blocks}
    overall = next((s for s in _HEALTH_ORDER if s in statuses), "idle")
    last_full = (
        SyncRun.objects.filter(type=SyncType.FULL, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    next_runs = {
        row.args.strip("'\""): row.next_run
        for row in Schedule.objects.filter(func="monitoring.tasks.scheduled_sync")
    }
    return {
        "overall": overall,
        "blocks": blocks,
        "last_full_sync": {
            "id": last_full.pk,
            "status": last_full.status,
            "finished_at": _iso(last_full.finished_at),
            "problems": last_full.problems,
        }
        if last_full
        else None,
        "next_run": {
            "full": _iso(next_runs.get("full")),
            "incremental": _iso(next_runs.get("incremental")),
        },
    }
