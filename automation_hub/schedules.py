"""The django-q2 schedules, created (or corrected) by every `migrate`: never made by hand.

Every schedule of the hub runs on the ops cluster (settings.Q_OPS_CLUSTER, `manage.py runworkers
ops`): its scheduler creates the tasks and its workers run them, so a queue full of renders never
delays the zombie hunter, the sweep, the detectors or the notifications.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

# Live events are pruned with the other tables by the retention schedule (monitoring): this
# older schedule of their own is removed wherever it still exists.
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
            "cluster": settings.Q_OPS_CLUSTER,
        },
    )
    return name


def schedules_assign_ops_cluster(*, names: list[str]) -> int:
    """Put schedules made elsewhere (data migrations) on the ops cluster. Returns rows changed."""
    from django_q.models import Schedule

    return (
        Schedule.objects.filter(name__in=names)
        .exclude(cluster=settings.Q_OPS_CLUSTER)
        .update(cluster=settings.Q_OPS_CLUSTER)
    )


def ops_async_task(func: str, *args: Any, **kwargs: Any) -> str:
    """`async_task` on the ops cluster's queue: the hub's own background work."""
    from django_q.tasks import async_task

    return async_task(func, *args, cluster=settings.Q_OPS_CLUSTER, **kwargs)


def hub_schedules_ensure() -> None:
    from django_q.models import Schedule

    Schedule.objects.filter(name=LIVE_PRUNE_SCHEDULE).delete()
