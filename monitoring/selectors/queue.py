"""The rows waiting or running now: read live (index-only passes), never rolled up, because
they change state at any moment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from rendering.models import ACTIVE_STATUSES, InstructionStatus, RenderInstruction


@dataclass(frozen=True)
class QueueSummary:
    """The rows waiting or running now (one index-only pass over them)."""

    by_status: Mapping[str, int] = field(default_factory=dict)
    pending_by_priority: Mapping[int, int] = field(default_factory=dict)
    delayed: int = 0  # PENDING longer than MONITOR_DELAYED_PENDING_MINUTES
    oldest_pending: datetime | None = None

    @property
    def pending(self) -> int:
        return self.by_status.get(InstructionStatus.PENDING, 0)

    @property
    def processing(self) -> int:
        return self.by_status.get(InstructionStatus.PROCESSING, 0)

    @property
    def stale(self) -> int:
        return self.by_status.get(InstructionStatus.STALE, 0)


@dataclass(frozen=True)
class QueueDepth:
    """`GET /api/metrics/queue-depth`: counts now, PENDING by priority (ascending), and the
    oldest PENDING row's age at the moment of the read."""

    pending: int
    processing: int
    stale: int
    pending_by_priority: Mapping[int, int]
    oldest_pending_seconds: float | None


def queue_summary(*, now: datetime | None = None) -> QueueSummary:
    """One grouped pass over the active rows (status, priority)."""
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
) -> QueueDepth:
    """The queue depth now (from `queue` when the caller already read it at `now`)."""
    now = now or timezone.now()
    queue = queue or queue_summary(now=now)
    oldest = queue.oldest_pending
    return QueueDepth(
        pending=queue.pending,
        processing=queue.processing,
        stale=queue.stale,
        pending_by_priority=dict(sorted(queue.pending_by_priority.items())),
        oldest_pending_seconds=round((now - oldest).total_seconds(), 1) if oldest else None,
    )
