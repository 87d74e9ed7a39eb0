"""What the render queue records about itself: MonitoringEvents and the matching live alerts."""

from __future__ import annotations

from typing import Any

from automation_hub.live import publish_on_commit
from monitoring.models import EventType, MonitoringEvent, Severity
from monitoring.services.events import event_live_data
from rendering.models import RenderInstruction

SOURCE = "render_queue"


def queue_event_record(
    *,
    code: str,
    message: str,
    severity: str = Severity.INFO,
    type: str = EventType.SYSTEM,
    instruction: RenderInstruction | None = None,
    details: dict[str, Any] | None = None,
    alert: bool = False,
) -> MonitoringEvent:
    """Store one event; with `alert`, also push it to the dashboards once it has committed."""
    event = MonitoringEvent.objects.create(
        type=type,
        code=code,
        severity=severity,
        source=SOURCE,
        message=message,
        details=details or {},
        instruction=instruction,
        hand_id=instruction.hand_id if instruction is not None else None,
        correlation_id=instruction.correlation_id if instruction is not None else None,
    )
    if alert:
        publish_on_commit("alert", event_live_data(event))
    return event
