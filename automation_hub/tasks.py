"""django-q2 entry points of the hub itself. Thin; running one twice is harmless."""

from __future__ import annotations

from automation_hub.live import live_events_prune as _live_events_prune


def live_events_prune() -> int:
    return _live_events_prune()
