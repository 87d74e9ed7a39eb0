"""The detectors' django-q2 schedule, created (or put back in shape) by migrating, never by hand."""

from __future__ import annotations

from django.db import migrations

SCHEDULES = [
    {
        "name": "monitoring: detectors",
        "func": "monitoring.tasks.run_detectors",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 1,
    },
]


def create_schedules(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    for spec in SCHEDULES:
        fields = {k: v for k, v in spec.items() if k != "name"}
        schedule.objects.update_or_create(name=spec["name"], defaults={**fields, "repeats": -1})


def remove_schedules(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.filter(name__in=[s["name"] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
