"""django-q2 entry points of the monitor (thin: each calls one service)."""

from __future__ import annotations

from typing import Any

from monitoring.services.detectors import monitor_run


def run_detectors() -> dict[str, Any]:
    """Scheduled every minute by the monitoring app's data migration."""
    return monitor_run().as_dict()


def notify_event(event_id: int) -> str:
    from monitoring.services.notifications import event_notify

    return event_notify(event_id=event_id)
