"""`GET /api/dashboard` (SPEC §5), also the overview page's tiles, producer cards and alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from automation_hub.models import MonitoringEvent
from monitoring.selectors.events import AlertGroup, open_alert_groups, open_alerts
from monitoring.selectors.health import completion_rate, orphan_hands
from monitoring.selectors.metrics import failed_between, ratio
from monitoring.selectors.producers import Projects, projects_summary
from monitoring.selectors.queue import queue_summary
from monitoring.selectors.rollup import facts_total, rollup_snapshot


@dataclass(frozen=True)
class QueueCounts:
    pending: int
    processing: int


@dataclass(frozen=True)
class DashboardMetrics:
    """The last hour's figures and the queue now."""

    throughput_1h: int
    avg_latency_1h: float | None
    error_rate_1h: float | None
    queue_depth: QueueCounts


@dataclass(frozen=True)
class FlowHealth:
    orphan_hands: int
    delayed_instructions: int
    completion_rate: float | None  # of the last 24 hours' instructions


@dataclass(frozen=True)
class DashboardSummary:
    """Every part read at one `now` against one rollup snapshot. `active_alerts` are the open
    warning-and-above events, newest first, at most the limit asked for."""

    projects: Projects
    metrics: DashboardMetrics
    active_alerts: tuple[MonitoringEvent, ...]
    data_flow_health: FlowHealth
    alert_groups: tuple[AlertGroup, ...] = ()
    open_alert_count: int = 0


def dashboard_summary(*, now: datetime | None = None, alert_limit: int = 20) -> DashboardSummary:
    """The dashboard at `now` (default: the moment of the call)."""
    with rollup_snapshot():
        return _dashboard_summary(now=now or timezone.now(), alert_limit=alert_limit)


def _dashboard_summary(*, now: datetime, alert_limit: int) -> DashboardSummary:
    hour_ago = now - timedelta(hours=1)
    last_hour = facts_total(hour_ago, now, ["completed"])
    failed = failed_between(hour_ago, now)
    queue = queue_summary(now=now)
    alerts = tuple(open_alerts()[:alert_limit])
    groups = tuple(open_alert_groups())
    metrics = DashboardMetrics(
        throughput_1h=last_hour.completed,
        avg_latency_1h=last_hour.latency_avg_seconds,
        error_rate_1h=ratio(failed, failed + last_hour.completed),
        queue_depth=QueueCounts(queue.pending, queue.processing),
    )
    return DashboardSummary(
        projects=projects_summary(now=now),
        metrics=metrics,
        active_alerts=alerts,
        data_flow_health=FlowHealth(
            orphan_hands=orphan_hands(now=now).count(),
            delayed_instructions=queue.delayed,
            completion_rate=completion_rate(now=now),
        ),
        alert_groups=groups,
        open_alert_count=open_alerts().count(),
    )
