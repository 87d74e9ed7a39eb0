"""Nightly full reconciliation (04:00 in TIME_ZONE, after the broadcast day) and an incremental
one every ten minutes; created or put back in shape by migrating, never by hand."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    {
        "name": "orchestrator: full sync (nightly)",
        "func": "monitoring.tasks.scheduled_sync",
        "args": "'full'",
        "schedule_type": "D",  # Schedule.DAILY
    },
    {
        "name": "orchestrator: incremental sync",
        "func": "monitoring.tasks.scheduled_sync",
        "args": "'incremental'",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 10,
    },
]


def _next_four_am() -> datetime:
    now = timezone.localtime()
    at = timezone.make_aware(datetime.combine(now.date(), time(4, 0)))
    return at if at > now else at + timedelta(days=1)


def create_schedules(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    for spec in SCHEDULES:
        fields = {k: v for k, v in spec.items() if k != "name"}
        defaults = {**fields, "repeats": -1}
        row, created = schedule.objects.update_or_create(name=spec["name"], defaults=defaults)
        if created and spec["schedule_type"] == "D":
            row.next_run = _next_four_am()
            row.save(update_fields=["next_run"])


def remove_schedules(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.filter(name__in=[s["name"] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0003_notifications_and_orchestrator")]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
