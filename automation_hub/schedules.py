"""The hub's own django-q2 schedules, created (or corrected) by every `migrate`."""

from __future__ import annotations

from django_q.models import Schedule

LIVE_PRUNE_SCHEDULE = "hub: prune live events"


def hub_schedules_ensure() -> None:
    """Idempotent: one schedule per name, whatever ran before."""
    Schedule.objects.update_or_create(
        name=LIVE_PRUNE_SCHEDULE,
        defaults={
            "func": "automation_hub.tasks.live_events_prune",
            "schedule_type": Schedule.MINUTES,
            "minutes": 60,
            "repeats": -1,
        },
    )
