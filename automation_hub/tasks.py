"""django-q2 entry points of the hub itself. Thin; running one twice is harmless."""

from __future__ import annotations

from automation_hub.live import live_events_prune as _live_events_prune
from automation_hub.notifications import event_notify


def live_events_prune() -> int:
    return _live_events_prune()


def notify_event(event_id: int) -> str:
    """Slack / e-mail for one warning-and-above event (queued after the event committed)."""
    return event_notify(event_id=event_id)
