"""What the orchestrator keeps of its own blocks and runs, and the per-minute metrics rollup.

The event journal (MonitoringEvent) lives in the core (`automation_hub.models`) and the audit
trail beside what it audits (`rendering.models.AuditEntry`): every layer records into them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class BlockStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    PARTIAL = "partial", "Partial"


class BlockState(models.Model):
    """What the orchestrator last saw of one block it runs itself (monitor, reconciliation,
    output storage). Producer and queue blocks are derived from their rows instead."""

    name = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=12, choices=BlockStatus.choices, default=BlockStatus.IDLE)
    last_activity = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    items_processed = models.PositiveIntegerField(default=0)
    items_total = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BlockStatus.values), name="block_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class SyncType(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class SyncRun(models.Model):
    """One reconciliation run: premium hand → instruction → output → file on storage."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        PARTIAL = "partial", "Partial"  # finished, found problems
        FAILED = "failed", "Failed"

    type = models.CharField(max_length=12, choices=SyncType.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    requested_by = models.CharField(max_length=150, blank=True)
    since = models.DateTimeField(null=True, blank=True)  # incremental: rows newer than this
    counts = models.JSONField(default=dict, blank=True)
    problems = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=SyncType.values), name="syncrun_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "completed", "partial", "failed"]),
                name="syncrun_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"sync #{self.pk} {self.type} {self.status}"


class MetricMinute(models.Model):
    """One settled minute (UTC) of the facts that no longer change once their rows commit.

    Written only by the rollup (`monitoring.services.rollup`): instructions created, completions
    (COMPLETED is terminal and keeps its `completed_at`) with their created → completed
    latency, hands and completed outputs, each counted in the minute of its own timestamp.
    Whatever can still change (FAILED, CANCELLED and waiting rows) is never rolled up: the
    selectors read it live from partial indexes.
    """

    minute = models.DateTimeField(primary_key=True)
    instructions_created = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    latency_us_total = models.BigIntegerField(default=0)  # Σ created → completed, microseconds
    # The earliest created_at among the minute's completions: only minutes where it is before a
    # moment can hold completions of instructions created before that moment.
    oldest_created_at = models.DateTimeField(null=True, blank=True)
    # Completions by latency bucket (monitoring.histogram): {"<bucket>": count}.
    latency_histogram = models.JSONField(default=dict, blank=True)
    hands_created = models.PositiveIntegerField(default=0)
    outputs_completed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["minute"]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M}: {self.completed} completed"


class MetricHour(models.Model):
    """The latency histogram of one whole clock hour (UTC), merged from its 60 MetricMinute rows
    once they are all rolled up: a day's percentiles read 24 of these, not 1440 minutes."""

    hour = models.DateTimeField(primary_key=True)
    completed = models.PositiveIntegerField(default=0)
    latency_histogram = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["hour"]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h: {self.completed} completed"


class MetricRollupState(models.Model):
    """How far the rollup got (a single row, pk 1).

    MetricMinute rows exist for every minute in [covered_from, rolled_until), and MetricHour
    rows for every whole hour in it; readers take those from the rollup and read the rest (the
    live tail after `rolled_until`, parts of minutes) from the base rows. `orphan_hand_ids`: the
    premium hands created before `rolled_until` that had no render instruction at the last run;
    every other premium hand before it had one then (instructions are never removed by the
    hub), so the orphan check only looks at these and at the hands after `rolled_until`.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    covered_from = models.DateTimeField()
    rolled_until = models.DateTimeField()
    orphan_hand_ids = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="rollup_state_single_row")]

    def __str__(self) -> str:
        return f"rollup {self.covered_from:%Y-%m-%d %H:%M} … {self.rolled_until:%Y-%m-%d %H:%M}"
