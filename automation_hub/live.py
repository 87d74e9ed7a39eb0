"""The one publish helper for live dashboard events: `{type, data, timestamp}`.

Call `publish_on_commit` from services so a rolled-back change is never announced.
Event types: hand_created, instruction_updated, render_completed, alert.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from automation_hub.layer_sender import layer_group_send

logger = logging.getLogger(__name__)

DASHBOARD_GROUP = "dashboard"


def publish(event_type: str, data: dict[str, Any]) -> None:
    """Send one event to every open dashboard. A broken layer is logged, never raised."""
    message = {
        "type": "live.event",
        "event": {"type": event_type, "data": data, "timestamp": timezone.now().isoformat()},
    }
    try:
        layer_group_send(DASHBOARD_GROUP, message)
    except Exception:  # the dashboard must never break the pipeline
        logger.exception("live event %s not published", event_type)


def publish_on_commit(event_type: str, data: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(event_type, data))
