"""The django-q2 schedules, created (or corrected) by every `migrate`: never made by hand."""

from __future__ import annotations

LIVE_PRUNE_SCHEDULE = "hub: prune live events"


def schedule_every_minutes(*, name: str, func: str, minutes: int) -> str:
    """Idempotent: one repeating schedule per name, whatever ran or was edited before."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        },
    )
    return name


def hub_schedules_ensure() -> None:
    schedule_every_minutes(
        name=LIVE_PRUNE_SCHEDULE, func="automation_hub.tasks.live_events_prune", minutes=60
    )
