"""Monitoring events (anomalies, alerts, remediations) and the audit trail of manual actions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    ANOMALY = "anomaly", "Anomaly"
    ALERT = "alert", "Alert"
    REMEDIATION = "remediation", "Remediation"
    OPERATION = "operation", "Operation"
    SYSTEM = "system", "System"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"

    @classmethod
    def at_least(cls, level: str) -> list[str]:
        return cls.values[cls.values.index(level) :]


class MonitoringEvent(models.Model):
    type = models.CharField(max_length=16, choices=EventType.choices)
    code = models.CharField(max_length=64)  # delayed_instruction, orphan_hand, …
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    source = models.CharField(max_length=64)  # the block that raised it
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    instruction = models.ForeignKey(
        "rendering.RenderInstruction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    hand = models.ForeignKey(
        "hands.Hand", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    correlation_id = models.UUIDField(null=True, blank=True, db_index=True)
    # Detectors set this to "<code>:<subject>" so one condition keeps one open event.
    # NULL (not "") for events outside dedup: the partial unique index ignores NULLs.
    dedup_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    resolved = models.BooleanField(default=False)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # Set once by the notifier that sent (or deliberately skipped) Slack/e-mail for it.
    notified_at = models.DateTimeField(null=True, blank=True)
    notification = models.CharField(max_length=32, blank=True)  # sent, rate_limited, failed
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(resolved=False),
                name="event_one_open_per_dedup_key",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="event_severity_valid"
            ),
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="event_type_valid"),
        ]
        indexes = [
            models.Index(fields=["resolved", "severity", "created_at"], name="event_open_idx"),
            # The dashboard's active alerts, newest first, however many closed events pile up.
            models.Index(
                fields=["created_at", "id"], condition=Q(resolved=False), name="event_open_new_idx"
            ),
            models.Index(fields=["code", "created_at"], name="event_code_created_idx"),
            models.Index(fields=["created_at"], name="event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message[:60]}"


class AuditEntry(models.Model):
    """One manual intervention: who did what to which rows, why, and the before → after."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)  # kept even if the user is deleted
    action = models.CharField(max_length=64)  # retry, cancel, change_priority, bulk_retry, …
    reason = models.TextField()
    target_type = models.CharField(max_length=64)
    target_ids = models.JSONField(default=list)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    via = models.CharField(max_length=16, default="api")  # api, admin, command, page
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"


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
