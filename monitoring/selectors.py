"""Reads of the monitoring side: metrics over time windows, the dashboard summary, data flow.

Every figure is the same whichever process asks. Counts over a window come from the per-minute
rollup for the whole minutes it holds and from the base rows for the rest
(`monitoring.rollup_selectors`); what can still change after its minute (FAILED, CANCELLED and
waiting rows, orphan hands) is read live from partial indexes. Nothing is cached.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from automation_hub.models import ApiKey, MonitoringEvent, ProducerRole, Severity
from hands.models import Hand
from monitoring.histogram import histogram_percentile
from monitoring.rollup_selectors import (
    Facts,
    completions_created_before,
    facts_bucketed,
    facts_total,
    minute_ceil,
    rollup_extent,
    rollup_snapshot,
)
from rendering.models import (
    ACTIVE_STATUSES,
    INGEST_TRIGGER_TYPES,
    InstructionStatus,
    OutputStatus,
    RenderInstruction,
    RenderOutput,
)


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
    """Buckets of [now - length, now) whose inner edges fall on whole minutes, so they line
    up with the rollup: the first starts exactly one window before now (up to a minute longer
    than the others), the last ends now (as much shorter)."""
    start = now - window.length
    first = minute_ceil(start)
    inner = [first + i * window.bucket for i in range(1, window.buckets)]
    return list(pairwise([start, *inner, now]))


def _failed() -> QuerySet[RenderInstruction]:
    # The queue stamps completed_at on a failed attempt too, so both share the time axis. Read
    # live: a retry (automatic, by hand, in bulk) or a cancel takes a row out of FAILED later.
    return RenderInstruction.objects.filter(status=InstructionStatus.FAILED)


def failed_between(start: datetime, end: datetime) -> int:
    """FAILED rows that finished in [start, end) (live)."""
    return _failed().filter(completed_at__gte=start, completed_at__lt=end).count()


def failed_bucketed(edges: list[tuple[datetime, datetime]]) -> list[int]:
    """FAILED rows that finished in each bucket [lo, hi) of contiguous `edges`: grouped by a
    CASE over the edges, so only the bucket numbers come back."""
    rows = _failed().filter(completed_at__gte=edges[0][0], completed_at__lt=edges[-1][1])
    last = len(edges) - 1
    bucket = Case(
        *(When(completed_at__lt=hi, then=Value(i)) for i, (_, hi) in enumerate(edges[:-1])),
        default=Value(last),
        output_field=IntegerField(),
    )
    counts = [0] * len(edges)
    for i, n in rows.annotate(b=bucket).values_list("b").annotate(n=Count("*")).order_by():
        counts[i] = n
    return counts


def completions_between(start: datetime, end: datetime) -> int:
    return facts_total(start, end, ["completed"]).completed


def metrics_throughput(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """Completed instructions in the window, per hour, and a count per bucket."""
    now = now or timezone.now()
    edges = _bucket_edges(window, now)
    counts = [bucket.completed for bucket in facts_bucketed(edges, ["completed"])]
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


def _percentile(facts: Facts, fraction: float) -> float | None:
    value = histogram_percentile(facts.latency_histogram, fraction)
    return None if value is None else round(value, 3)


def latency_stats(*, start: datetime, end: datetime, percentiles: bool = True) -> dict[str, Any]:
    """created → completed of instructions completed in [start, end): count, exact average,
    p50 and p95 read from the latency histogram (within ±4.4 %, see monitoring.histogram)."""
    facts = facts_total(start, end, ["completed", "latency"] if percentiles else ["completed"])
    return {
        "count": facts.completed,
        "avg_seconds": facts.latency_avg_seconds,
        "p50_seconds": _percentile(facts, 0.50) if percentiles else None,
        "p95_seconds": _percentile(facts, 0.95) if percentiles else None,
    }


def metrics_latency(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """p50/p95/avg latency (created → completed) over the window; count and avg per bucket."""
    now = now or timezone.now()
    edges = _bucket_edges(window, now)
    with rollup_snapshot():
        stats = latency_stats(start=now - window.length, end=now)
        buckets = facts_bucketed(edges, ["completed"])
    return {
        "window": window.name,
        "value": stats["p50_seconds"],
        "unit": "seconds",
        **stats,
        "bucket_seconds": int(window.bucket.total_seconds()),
        "series": [
            {"start": lo.isoformat(), "count": b.completed, "avg_seconds": b.latency_avg_seconds}
            for (lo, _), b in zip(edges, buckets, strict=True)
        ],
    }


def error_rate_between(start: datetime, end: datetime) -> tuple[int, int]:
    """(failed, finished) among instructions that finished in [start, end)."""
    failed = failed_between(start, end)
    return failed, failed + completions_between(start, end)


def metrics_error_rate(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """Failed share of finished instructions (completed + failed) in the window and per bucket."""
    now = now or timezone.now()
    edges = _bucket_edges(window, now)
    completed = [bucket.completed for bucket in facts_bucketed(edges, ["completed"])]
    failed = failed_bucketed(edges)
    series = [
        {"start": lo.isoformat(), "failed": f, "finished": f + c, "value": _ratio(f, f + c)}
        for (lo, _), f, c in zip(edges, failed, completed, strict=True)
    ]
    failed_total, finished_total = sum(failed), sum(failed) + sum(completed)
    return {
        "window": window.name,
        "value": _ratio(failed_total, finished_total),
        "unit": "ratio",
        "failed": failed_total,
        "finished": finished_total,
        "bucket_seconds": int(window.bucket.total_seconds()),
        "series": series,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class QueueSummary:
    """The rows waiting or running now (one index-only pass over them)."""

    by_status: dict[str, int] = field(default_factory=dict)
    pending_by_priority: dict[int, int] = field(default_factory=dict)
    delayed: int = 0  # PENDING longer than MONITOR_DELAYED_PENDING_MINUTES
    oldest_pending: datetime | None = None


def queue_summary(*, now: datetime | None = None) -> QueueSummary:
    now = now or timezone.now()
    limit = now - timedelta(minutes=settings.MONITOR_DELAYED_PENDING_MINUTES)
    rows = (
        RenderInstruction.objects.filter(status__in=ACTIVE_STATUSES)
        .values_list("status", "priority")
        .annotate(
            n=Count("*"),
            delayed=Count("created_at", filter=Q(created_at__lte=limit)),
            oldest=Min("created_at"),
        )
        .order_by()
    )
    by_status: Counter[str] = Counter()
    by_priority: dict[int, int] = {}
    delayed, oldest = 0, None
    for status, priority, n, late, first in rows:
        by_status[status] += n
        if status == InstructionStatus.PENDING:
            by_priority[priority] = n
            delayed += late
            oldest = first if oldest is None else min(oldest, first)
    return QueueSummary(dict(by_status), by_priority, delayed, oldest)


def metrics_queue_depth(
    *, now: datetime | None = None, queue: QueueSummary | None = None
) -> dict[str, Any]:
    """Rows waiting and running now, PENDING by priority, and the oldest PENDING row's age."""
    now = now or timezone.now()
    queue = queue or queue_summary(now=now)
    oldest = queue.oldest_pending
    return {
        "pending": queue.by_status.get(InstructionStatus.PENDING, 0),
        "processing": queue.by_status.get(InstructionStatus.PROCESSING, 0),
        "stale": queue.by_status.get(InstructionStatus.STALE, 0),
        "pending_by_priority": {str(p): n for p, n in sorted(queue.pending_by_priority.items())},
        "oldest_pending_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


# --------------------------------------------------------------------------------------------------
# Data-flow health
# --------------------------------------------------------------------------------------------------


def orphan_hands(*, now: datetime | None = None) -> QuerySet[Hand]:
    """Premium hands past the grace period that have no instruction at all."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.MONITOR_ORPHAN_GRACE_SECONDS)
    hands = Hand.objects.filter(is_premium=True, created_at__lte=now - grace)
    extent = rollup_extent()
    if extent is not None:
        # The rollup checked every premium hand before its edge: only those it found without
        # an instruction can be orphans (an instruction, once there, stays).
        hands = hands.filter(
            Q(created_at__gte=extent.rolled_until) | Q(pk__in=extent.orphan_hand_ids)
        )
    # NOT EXISTS: an anti-join on the instructions' hand index, not a hashed million-row NOT IN.
    return hands.filter(~Exists(RenderInstruction.objects.filter(hand_id=OuterRef("pk"))))


def delayed_instructions(*, now: datetime | None = None) -> QuerySet[RenderInstruction]:
    """PENDING rows older than the delay threshold (created_at, not updated_at: a retried row
    counts from its creation, as the viewer waits since then)."""
    now = now or timezone.now()
    limit = now - timedelta(minutes=settings.MONITOR_DELAYED_PENDING_MINUTES)
    return RenderInstruction.objects.filter(status=InstructionStatus.PENDING, created_at__lte=limit)


def completed_since(start: datetime, now: datetime, *, completions: int | None = None) -> int:
    """COMPLETED instructions created in [start, now): every completion since `start` but those
    of instructions created before it. COMPLETED is terminal, so both parts are rolled-up facts.
    (A completion stamped before its row was created, by a host whose clock runs behind, would
    be missed.)"""
    if completions is None:
        completions = completions_between(start, now)
    return completions - completions_created_before(start, now)


def completion_rate(*, now: datetime | None = None) -> float | None:
    """Share of the last 24 hours' instructions (cancelled ones aside) that are COMPLETED."""
    now = now or timezone.now()
    start = now - timedelta(hours=24)
    day = facts_total(start, now, ["instructions_created", "completed"])
    created = day.instructions_created
    completed = completed_since(start, now, completions=day.completed)
    # Read live: a cancel, or a retry of a cancelled row, can come at any time.
    cancelled = RenderInstruction.objects.filter(
        status=InstructionStatus.CANCELLED, created_at__gte=start, created_at__lt=now
    ).count()
    return _ratio(completed, created - cancelled)


# --------------------------------------------------------------------------------------------------
# Producers and the dashboard
# --------------------------------------------------------------------------------------------------


def _start_of_today(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _keys_last_used() -> dict[str, datetime | None]:
    """The last use of any API key, per producer role."""
    return dict(ApiKey.objects.values_list("role").annotate(last=Max("last_used_at")).order_by())


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


def _processing_summary(now: datetime) -> dict[str, Any]:
    """PROCESSING rows: how many, how many workers heart-beat lately, the last heartbeat (one
    pass over the partial index on PROCESSING rows)."""
    stale_after = now - timedelta(seconds=settings.MONITOR_PRODUCER_STALE_SECONDS)
    alive = Q(heartbeat_at__gte=stale_after) & ~Q(claimed_by="")
    return RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING).aggregate(
        processing=Count("*"),
        workers=Count("claimed_by", distinct=True, filter=alive),
        last_heartbeat=Max("heartbeat_at"),
    )


def projects_summary(*, now: datetime | None = None) -> dict[str, Any]:
    """The three producers, each with a status derived from what it last did."""
    now = now or timezone.now()
    today = facts_total(
        _start_of_today(now), now, ["hands_created", "instructions_created", "outputs_completed"]
    )

    keys_used = _keys_last_used()
    hands_last = Hand.objects.aggregate(last=Max("created_at"))["last"]
    feature_last = _latest(hands_last, keys_used.get(ProducerRole.FEATURE_TABLE))

    sub_rows = RenderInstruction.objects.exclude(trigger_type__in=INGEST_TRIGGER_TYPES)
    sub_last = _latest(
        sub_rows.aggregate(last=Max("created_at"))["last"], keys_used.get(ProducerRole.SUB)
    )

    processing = _processing_summary(now)
    ae_last = _latest(
        processing["last_heartbeat"],  # only held rows heartbeat
        RenderOutput.objects.aggregate(last=Max("created_at"))["last"],
        keys_used.get(ProducerRole.AE),
    )
    worker = {
        "processing": processing["processing"],
        "workers": processing["workers"],
        "open_circuits": open_circuits(),
    }
    ae_status = producer_status(ae_last, now)
    if worker["open_circuits"]:
        ae_status = "degraded"
    return {
        "feature_table": {
            "status": producer_status(feature_last, now),
            "last_activity": _iso(feature_last),
            "hands_today": today.hands_created,
        },
        "sub": {
            "status": producer_status(sub_last, now),
            "last_activity": _iso(sub_last),
            "instructions_created": today.instructions_created,
        },
        "ae": {
            "status": ae_status,
            "last_activity": _iso(ae_last),
            "worker_status": worker,
            "outputs_completed": today.outputs_completed,
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
    with rollup_snapshot():
        return _dashboard_summary(now=now or timezone.now(), alert_limit=alert_limit)


def _dashboard_summary(*, now: datetime, alert_limit: int) -> dict[str, Any]:
    hour_ago = now - timedelta(hours=1)
    last_hour = facts_total(hour_ago, now, ["completed"])
    failed = failed_between(hour_ago, now)
    queue = queue_summary(now=now)
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
            "throughput_1h": last_hour.completed,
            "avg_latency_1h": last_hour.latency_avg_seconds,
            "error_rate_1h": _ratio(failed, failed + last_hour.completed),
            "queue_depth": {
                "pending": queue.by_status.get(InstructionStatus.PENDING, 0),
                "processing": queue.by_status.get(InstructionStatus.PROCESSING, 0),
            },
        },
        "active_alerts": alerts,
        "data_flow_health": {
            "orphan_hands": orphan_hands(now=now).count(),
            "delayed_instructions": queue.delayed,
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


def _last_instruction_change() -> datetime | None:
    # One MAX per status, each the last entry of the (status, updated_at) index, instead of
    # reading every row's updated_at.
    return _latest(
        *(
            RenderInstruction.objects.filter(status=status).aggregate(last=Max("updated_at"))[
                "last"
            ]
            for status in InstructionStatus.values
        )
    )


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
    queue = queue_summary(now=now)
    delayed = queue.delayed
    busy = queue.by_status.get(InstructionStatus.PENDING, 0) + queue.by_status.get(
        InstructionStatus.PROCESSING, 0
    )
    created_today = projects["sub"]["instructions_created"]
    blocks.append(
        _block(
            "render_queue",
            "partial" if delayed else ("in_progress" if busy else "idle"),
            _last_instruction_change(),
            last_error=f"{delayed} instruction(s) pending too long" if delayed else "",
            processed=completed_since(today, now),
            total=created_today,
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

    with rollup_snapshot():
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
