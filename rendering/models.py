"""Render instructions (the queue's rows) and the files they produce.

The instruction row is the source of truth of the queue: a django-q2 message only wakes a worker,
which then claims the best PENDING row atomically. The claim fields (`claimed_by`, `lease_id`,
`heartbeat_at`, `next_attempt_at`) exist so that no two workers hold a row and no row is stranded.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class InstructionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    STALE = "stale", "Stale"
    CANCELLED = "cancelled", "Cancelled"


class OutputFormat(models.TextChoices):
    PNG = "PNG", "PNG"
    MOV = "MOV", "MOV"
    MP4 = "MP4", "MP4"


# Instructions the hub creates itself from premium hands; every other trigger is the sub
# producer's (or a person's) doing, which is what the sub producer's last activity reads.
INGEST_TRIGGER_TYPES = ("premium_hand", "orphan_hand")
ACTIVE_STATUSES = ("pending", "processing", "stale")
# The backend name of jobs claimed over the pull API by `ae` machines that render themselves.
PULL_BACKEND = "ae"


def default_max_retries() -> int:
    return settings.RENDER_DEFAULT_MAX_RETRIES


class RenderInstruction(models.Model):
    template_name = models.CharField(max_length=128)
    layer_data = models.JSONField(default=dict, blank=True)
    output_settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=InstructionStatus.choices, default=InstructionStatus.PENDING
    )
    priority = models.PositiveSmallIntegerField(default=5)  # 1 = highest … 10 = lowest
    trigger_type = models.CharField(max_length=32, default="manual")
    trigger_id = models.CharField(max_length=128, blank=True)
    hand = models.ForeignKey(
        "hands.Hand", null=True, blank=True, on_delete=models.PROTECT, related_name="instructions"
    )
    correlation_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    # A producer that resends a POST with the same key gets the first instruction back. Keys are
    # unique per scope, the caller's own namespace (`key:<role>:<name>`, `user:<name>`, `hub`),
    # so one producer can never take (or answer 409 on) a key another will use.
    idempotency_scope = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    created_by = models.CharField(max_length=150, blank=True)  # user name or API key name

    retry_count = models.PositiveSmallIntegerField(default=0)
    max_retries = models.PositiveSmallIntegerField(default=default_max_retries)
    error_message = models.TextField(blank=True)

    # Claim / lease: who holds the row, which claim this is, when it last showed it is alive.
    claimed_by = models.CharField(max_length=128, blank=True)
    lease_id = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # backoff: not claimable before
    backend = models.CharField(max_length=32, blank=True)  # renderer that ran the last attempt
    external_id = models.CharField(max_length=128, blank=True)  # e.g. the Nexrender job uid
    render_progress = models.PositiveSmallIntegerField(default=0)  # percent
    # Releases in a row without a render (backend unavailable, farm saturated): past
    # RENDER_RELEASE_HOLD_AFTER the job waits before its next claim (`next_attempt_at`).
    releases = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=10), name="instr_priority_1_10"
            ),
            models.CheckConstraint(
                condition=Q(status__in=InstructionStatus.values), name="instr_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(render_progress__lte=100), name="instr_progress_lte_100"
            ),
            # NULL keys (no key sent) are outside the constraint on both databases.
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="instr_idempotency_per_scope"
            ),
        ]
        indexes = [
            # The claim query: best PENDING row by priority then age.
            models.Index(
                fields=["priority", "created_at", "id"],
                condition=Q(status="pending"),
                name="instr_claim_idx",
            ),
            # Zombie hunter: PROCESSING rows by heartbeat age; with the holder, the dashboard
            # counts live workers from the index alone.
            models.Index(
                fields=["heartbeat_at", "claimed_by"],
                condition=Q(status="processing"),
                name="instr_heartbeat_idx",
            ),
            # Time-window metrics: completions / failures per hour, latency.
            models.Index(fields=["status", "completed_at"], name="instr_status_completed_idx"),
            models.Index(fields=["status", "updated_at"], name="instr_status_updated_idx"),
            models.Index(fields=["template_name", "created_at"], name="instr_template_created_idx"),
            # The SQLite claim finds the row it just took by its new lease.
            models.Index(fields=["lease_id"], name="instr_lease_idx"),
            # Queue depth by status and priority, delayed count and oldest PENDING row: one
            # index-only pass over the rows still waiting or running; and the detector's list
            # of delayed rows, oldest first, as an index range.
            models.Index(
                fields=["status", "created_at", "priority"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="instr_active_idx",
            ),
            # Completion rate: the cancelled rows among those created in the last 24 h (read
            # live: a cancel, or a retry of a cancelled row, can come at any time).
            models.Index(
                fields=["created_at"],
                condition=Q(status="cancelled"),
                name="instr_cancelled_created_idx",
            ),
            # The queue supervisor's look, twice a second, for failed jobs whose backoff ended.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="failed"),
                name="instr_retry_due_idx",
            ),
            # The sub producer's last instruction without walking back over the premium ones.
            models.Index(
                fields=["created_at"],
                condition=~Q(trigger_type__in=INGEST_TRIGGER_TYPES),
                name="instr_sub_created_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.template_name} [{self.status}] p{self.priority}"

    @property
    def is_terminal(self) -> bool:
        return self.status in (InstructionStatus.COMPLETED, InstructionStatus.CANCELLED)


class OutputStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class RenderOutput(models.Model):
    instruction = models.ForeignKey(
        RenderInstruction, on_delete=models.PROTECT, related_name="outputs"
    )
    output_path = models.CharField(max_length=1024)
    file_size = models.BigIntegerField(default=0)  # bytes, read from the real file
    frame_count = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=12, choices=OutputStatus.choices, default=OutputStatus.COMPLETED
    )
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An instruction renders once: a second completed output is a double render.
            models.UniqueConstraint(
                fields=["instruction"],
                condition=Q(status="completed"),
                name="output_one_completed_per_instruction",
            ),
            models.CheckConstraint(condition=Q(file_size__gte=0), name="output_file_size_gte_0"),
            models.CheckConstraint(
                condition=Q(status__in=OutputStatus.values), name="output_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="output_created_idx")]

    def __str__(self) -> str:
        return f"{self.output_path} ({self.file_size} B)"


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half open"


class CircuitBreaker(models.Model):
    """One render backend's circuit breaker, shared by every worker process through the database.

    CLOSED: jobs run. OPEN: the backend is down; workers leave jobs PENDING (no retry spent) until
    `opened_at` + reset timeout. HALF_OPEN: one trial job runs; success closes, failure re-opens.
    """

    backend = models.CharField(max_length=32, unique=True)
    state = models.CharField(
        max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    trial_started_at = models.DateTimeField(null=True, blank=True)  # HALF_OPEN: the trial began
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["backend"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=BreakerState.values), name="breaker_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backend}: {self.state}"


class AuditEntry(models.Model):
    """One change of an instruction made by a person or decided by the hub on its own: who, what,
    why, and the row before → after. Written only by `rendering.services.transitions`, one entry
    per instruction changed (a bulk retry of 300 rows writes 300), so an instruction's history is
    one indexed query. Never edited or deleted.
    """

    INSTRUCTION = "rendering.renderinstruction"

    # SET_NULL: the trail outlives the row (target_ids still names it); the hub itself never
    # deletes instructions.
    instruction = models.ForeignKey(
        RenderInstruction,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)  # kept even if the user is deleted
    action = models.CharField(max_length=64)  # the transition: retry, cancel, reap, auto_retry, …
    reason = models.TextField()
    target_type = models.CharField(max_length=64)
    target_ids = models.JSONField(default=list)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    via = models.CharField(max_length=16, default="api")  # api, admin, command, page, system
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table keeps the name it had when the monitoring app owned the model.
        db_table = "monitoring_auditentry"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # One instruction's history, oldest first (the instruction page's timeline).
            models.Index(fields=["instruction", "created_at"], name="audit_instruction_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"
