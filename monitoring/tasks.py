"""django-q2 entry points of the monitor (thin: each calls one service)."""

from __future__ import annotations

from typing import Any

from automation_hub.notifications import event_notify
from monitoring.services.detectors import monitor_run
from monitoring.services.orchestrator import sync_execute, sync_scheduled
from monitoring.services.rollup import metrics_rollup_run


def run_detectors() -> dict[str, Any]:
    """Scheduled every minute by the monitoring app's data migration."""
    return monitor_run().as_dict()


def rollup_metrics() -> dict[str, Any]:
    """Scheduled every minute (created after `migrate`): roll up the minutes that settled."""
    return metrics_rollup_run().as_dict()


def notify_event(event_id: int) -> str:
    """Tasks queued before notifications moved to the core still run (one release's grace)."""
    return event_notify(event_id=event_id)


def run_sync(run_id: int) -> int | None:
    """A reconciliation requested through the API (`POST /api/orchestrator/sync`)."""
    run = sync_execute(run_id=run_id)
    return run.problems if run else None


def scheduled_sync(sync_type: str) -> int | None:
    """The nightly full and the frequent incremental runs."""
    return sync_scheduled(type=sync_type)


def prune_storage() -> dict[str, int]:
    """Scheduled hourly (created after `migrate`): delete what is past its retention."""
    from monitoring.services.retention import retention_prune

    return {count.table: count.rows for count in retention_prune()}
