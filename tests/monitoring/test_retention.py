"""`manage.py prune` and its schedule: every growing table stays bounded, the record is kept."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from automation_hub.models import HubProcess, LiveEvent, MonitoringEvent
from monitoring.models import MetricHour, MetricMinute, SyncRun
from monitoring.services.retention import PRUNE_SCHEDULE, retention_prune
from rendering.models import AuditEntry

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OLD = NOW - timedelta(days=30)
RECENT = NOW - timedelta(hours=1)


def event(*, resolved: bool, at, resolved_at=None) -> MonitoringEvent:
    row = MonitoringEvent.objects.create(
        type="alert", code="delayed_instruction", severity="warning", source="test", message="m"
    )
    MonitoringEvent.objects.filter(pk=row.pk).update(
        created_at=at, resolved=resolved, resolved_at=resolved_at
    )
    return row


def sync_run(*, at, status: str = SyncRun.Status.COMPLETED, type: str = "incremental") -> SyncRun:
    row = SyncRun.objects.create(type=type, status=status)
    SyncRun.objects.filter(pk=row.pk).update(created_at=at, finished_at=at)
    return row


def task(*, stopped, success: bool) -> Task:
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name="t",
        func="monitoring.tasks.run_detectors",
        started=stopped,
        stopped=stopped,
        success=success,
    )


@pytest.fixture
def day_of_rows():
    rows = {
        "old_resolved": event(resolved=True, at=OLD, resolved_at=OLD),
        "old_open": event(resolved=False, at=OLD),
        "old_resolved_yesterday": event(resolved=True, at=OLD, resolved_at=RECENT),
        "recent_resolved": event(resolved=True, at=RECENT, resolved_at=RECENT),
        "old_sync": sync_run(at=OLD),
        "old_sync_running": sync_run(at=OLD, status=SyncRun.Status.RUNNING),
        "newest_full_sync": sync_run(at=OLD, type="full"),  # the only full run: kept
        "recent_sync": sync_run(at=RECENT),
        "old_failure": task(stopped=OLD, success=False),
        "old_success": task(stopped=OLD, success=True),
        "recent_failure": task(stopped=RECENT, success=False),
    }
    OrmQ.objects.create(key="hub", payload="x", lock=OLD)
    OrmQ.objects.create(key="hub", payload="y", lock=NOW)
    LiveEvent.objects.create(type="hand_created", data={"id": 1}, created_at=OLD)
    LiveEvent.objects.create(type="hand_created", data={"id": 2}, created_at=RECENT)
    MetricMinute.objects.create(minute=OLD.replace(second=0, microsecond=0))
    MetricMinute.objects.create(minute=RECENT.replace(second=0, microsecond=0))
    MetricHour.objects.create(hour=OLD.replace(minute=0, second=0, microsecond=0))
    HubProcess.objects.create(
        name="render-workers", host="old-container", state="running", beat_at=OLD
    )
    HubProcess.objects.create(
        name="render-workers", host="new-container", state="running", beat_at=NOW
    )
    audit = AuditEntry.objects.create(
        actor_name="engineer", action="retry", reason="r", target_type="instruction"
    )
    AuditEntry.objects.filter(pk=audit.pk).update(created_at=OLD)
    return rows


def test_it_deletes_only_what_is_past_its_retention(day_of_rows):
    counts = {c.table: c.rows for c in retention_prune()}

    assert counts == {
        "monitoring_monitoringevent": 1,
        "monitoring_syncrun": 1,
        "django_q_task": 2,
        "django_q_ormq": 1,
        "automation_hub_liveevent": 1,
        "monitoring_metricminute": 1,
        "monitoring_metrichour": 1,
        "automation_hub_hubprocess": 1,
    }
    rows = day_of_rows
    kept_events = set(MonitoringEvent.objects.values_list("pk", flat=True))
    assert kept_events == {
        rows["old_open"].pk,  # open alerts are never pruned
        rows["old_resolved_yesterday"].pk,  # counted from when it was resolved
        rows["recent_resolved"].pk,
    }
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {
        rows["old_sync_running"].pk,
        rows["newest_full_sync"].pk,
        rows["recent_sync"].pk,
    }
    assert list(Task.objects.values_list("pk", flat=True)) == [rows["recent_failure"].pk]
    assert list(LiveEvent.objects.values_list("data__id", flat=True)) == [2]
    assert OrmQ.objects.count() == MetricMinute.objects.count() == 1
    assert list(HubProcess.objects.values_list("host", flat=True)) == ["new-container"]
    assert AuditEntry.objects.count() == 1  # the record of manual interventions stays


def test_it_says_what_a_dry_run_would_delete_and_deletes_nothing(day_of_rows):
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "monitoring_monitoringevent" in text and "would delete        1 rows" in text
    assert "django_q_task                    would delete        2 rows" in text
    assert text.splitlines()[-1].split() == [
        "total",
        "would",
        "delete",
        "9",
        "rows",
        "(dry",
        "run)",
    ]
    assert MonitoringEvent.objects.count() == 4
    assert Task.objects.count() == 3
    assert LiveEvent.objects.count() == 2


def test_it_prunes_in_batches_and_reports_the_total(settings):
    settings.PRUNE_BATCH_SIZE = 2
    for n in range(5):
        LiveEvent.objects.create(type="hand_created", data={"id": n}, created_at=OLD)
    out = StringIO()
    call_command("prune", stdout=out)

    assert "automation_hub_liveevent         deleted        5 rows" in out.getvalue()
    assert LiveEvent.objects.count() == 0


def test_it_runs_hourly_on_the_ops_cluster_after_migrate():
    call_command("migrate", verbosity=0)

    schedule = Schedule.objects.get(name=PRUNE_SCHEDULE)
    assert schedule.func == "monitoring.tasks.prune_storage"
    assert schedule.minutes == settings.PRUNE_EVERY_MINUTES == 60
    assert schedule.repeats == -1
    # Every schedule of the hub, including those the data migrations made, is on the ops cluster.
    assert set(Schedule.objects.values_list("cluster", flat=True)) == {settings.Q_OPS_CLUSTER}
    assert not Schedule.objects.filter(name="hub: prune live events").exists()


def test_it_refuses_a_retention_below_one(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "prune", "--dry-run"],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "RETENTION_TASK_RESULT_DAYS": "0",
            "HUB_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "RETENTION_TASK_RESULT_DAYS must be at least 1" in done.stderr
