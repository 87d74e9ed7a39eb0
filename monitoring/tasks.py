"""django-q2 entry points of the monitor (thin: each calls one service)."""

from __future__ import annotations

from typing import Any

from monitoring.services.detectors import monitor_run


def run_detectors() -> dict[str, Any]:
    """Scheduled every minute by the monitoring app's data migration."""
    return monitor_run().as_dict()
