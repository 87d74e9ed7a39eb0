"""Bounded storage: what the hub deletes, and when, so a 24-hour broadcast day (and the next) never
grows a table without end.

| table | kept | setting |
| --- | --- | --- |
| MonitoringEvent | open ones for ever; resolved ones for 7 days | RETENTION_RESOLVED_EVENT_DAYS |
| SyncRun | 7 days, and always the newest run of each type | RETENTION_SYNC_RUN_DAYS |
| django-q2 Task (successes and failures) | 2 days | RETENTION_TASK_RESULT_DAYS |
| django-q2 OrmQ (embedded broker) | messages nobody took: 24 h | RETENTION_BROKER_MESSAGE_HOURS |
| LiveEvent | 24 h | LIVE_EVENT_RETENTION_HOURS |
| MetricMinute / MetricHour | 48 h (the rollup also drops them) | MONITOR_ROLLUP_RETENTION_HOURS |
| HubProcess | processes not heard from for a day (old containers, old hosts) | - |

Hands, instructions, outputs and audit entries are the broadcast's record: never pruned here.
Runs hourly on the ops cluster (`retention: prune`), and as `manage.py prune [--dry-run]`.
Deletes go in batches of PRUNE_BATCH_SIZE rows, each its own short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Max, Q
from django.utils import timezone
from django_q.models import OrmQ, Task

from automation_hub.models import HubProcess, LiveEvent, MonitoringEvent
from automation_hub.schedules import schedule_every_minutes, schedules_assign_ops_cluster
from monitoring.models import MetricHour, MetricMinute, SyncRun

PRUNE_SCHEDULE = "retention: prune"
# Schedules the monitoring app's data migrations create: put on the ops cluster after `migrate`.
MIGRATION_SCHEDULES = [
    "monitoring: detectors",
    "orchestrator: full sync (nightly)",
    "orchestrator: incremental sync",
]


@dataclass(frozen=True)
class PruneCount:
    table: str
    rule: str
    cutoff: datetime
    rows: int


@dataclass(frozen=True)
class _Rule:
    model: type[models.Model]
    rule: str
    cutoff: datetime
    queryset: models.QuerySet


def _rules(now: datetime) -> list[_Rule]:
    events_before = now - timedelta(days=settings.RETENTION_RESOLVED_EVENT_DAYS)
    syncs_before = now - timedelta(days=settings.RETENTION_SYNC_RUN_DAYS)
    tasks_before = now - timedelta(days=settings.RETENTION_TASK_RESULT_DAYS)
    messages_before = now - timedelta(hours=settings.RETENTION_BROKER_MESSAGE_HOURS)
    live_before = now - timedelta(hours=settings.LIVE_EVENT_RETENTION_HOURS)
    metrics_before = now - timedelta(hours=settings.MONITOR_ROLLUP_RETENTION_HOURS)
    processes_before = now - timedelta(days=1)
    newest_syncs = SyncRun.objects.values("type").annotate(newest=Max("id")).values("newest")
    return [
        _Rule(
            MonitoringEvent,
            f"resolved, resolved over {settings.RETENTION_RESOLVED_EVENT_DAYS} d ago",
            events_before,
            # created_at first: the delete walks event_created_idx, not the whole table.
            MonitoringEvent.objects.filter(
                created_at__lt=events_before, resolved=True, resolved_at__lt=events_before
            ),
        ),
        _Rule(
            SyncRun,
            f"finished over {settings.RETENTION_SYNC_RUN_DAYS} d ago (newest per type kept)",
            syncs_before,
            SyncRun.objects.filter(created_at__lt=syncs_before)
            .exclude(status__in=[SyncRun.Status.PENDING, SyncRun.Status.RUNNING])
            .exclude(pk__in=newest_syncs),
        ),
        _Rule(
            Task,
            f"task results over {settings.RETENTION_TASK_RESULT_DAYS} d old",
            tasks_before,
            Task.objects.filter(stopped__lt=tasks_before),
        ),
        _Rule(
            OrmQ,
            f"broker messages untaken for {settings.RETENTION_BROKER_MESSAGE_HOURS} h",
            messages_before,
            OrmQ.objects.filter(lock__lt=messages_before),
        ),
        _Rule(
            LiveEvent,
            f"over {settings.LIVE_EVENT_RETENTION_HOURS} h old",
            live_before,
            LiveEvent.objects.filter(created_at__lt=live_before),
        ),
        _Rule(
            MetricMinute,
            f"over {settings.MONITOR_ROLLUP_RETENTION_HOURS} h old",
            metrics_before,
            MetricMinute.objects.filter(minute__lt=metrics_before),
        ),
        _Rule(
            MetricHour,
            f"over {settings.MONITOR_ROLLUP_RETENTION_HOURS} h old",
            metrics_before,
            MetricHour.objects.filter(Q(hour__lt=metrics_before)),
        ),
        _Rule(
            HubProcess,
            "processes not heard from for 1 d",
            processes_before,
            HubProcess.objects.filter(beat_at__lt=processes_before),
        ),
    ]


def retention_prune(*, dry_run: bool = False, now: datetime | None = None) -> list[PruneCount]:
    """Delete (or, dry run, count) every row past its retention. One entry per table."""
    now = now or timezone.now()
    counts = []
    for rule in _rules(now):
        rows = rule.queryset.count() if dry_run else _delete_in_batches(rule.queryset)
        counts.append(PruneCount(rule.model._meta.db_table, rule.rule, rule.cutoff, rows))
    return counts


def _delete_in_batches(queryset: models.QuerySet) -> int:
    model = queryset.model
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[: settings.PRUNE_BATCH_SIZE])
        if not ids:
            return deleted
        done, _ = model.objects.filter(pk__in=ids).delete()
        deleted += len(ids) if done else 0


def retention_schedules_ensure() -> list[str]:
    """The hourly prune, and the monitoring app's other schedules on the ops cluster."""
    schedules_assign_ops_cluster(names=MIGRATION_SCHEDULES)
    return [
        schedule_every_minutes(
            name=PRUNE_SCHEDULE,
            func="monitoring.tasks.prune_storage",
            minutes=settings.PRUNE_EVERY_MINUTES,
        )
    ]
