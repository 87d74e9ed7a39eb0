"""The core's records: producer credentials (API keys), the live event log and the event journal.

People are Django users. The event journal (MonitoringEvent) is written by every layer (the render
queue, the monitor, people's actions), so it lives here, below them all; its links to a hand or an
instruction are string references, not imports.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ProducerRole(models.TextChoices):
    FEATURE_TABLE = "feature_table", "Feature table (RFID hands)"
    SUB = "sub", "Sub (render instructions)"
    AE = "ae", "AE render worker"
    METRICS = "metrics", "Metrics scraper (/metrics)"


class ApiKey(models.Model):
    """A producer's key. Only the SHA-256 of the key is stored; the key itself is shown once.

    Keys are 256-bit random strings, so a fast hash is enough: there is nothing to brute-force.
    The prefix is stored in clear to find the row without a scan.
    """

    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=ProducerRole.choices)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=ProducerRole.values), name="apikey_role_valid"
            ),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.name} ({self.role}, {self.prefix}…, {state})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_key(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @staticmethod
    def generate() -> tuple[str, str]:
        """Return (prefix, full key). The key reads `wsop_<prefix>.<secret>`."""
        prefix = secrets.token_hex(6)
        return prefix, f"wsop_{prefix}.{secrets.token_urlsafe(32)}"


class LiveEvent(models.Model):
    """One live dashboard event. The id is its sequence number: pages resume from the last they saw.

    Every process writes here (web, django-q2 workers, management commands, admin). In embedded mode
    the web process relays new rows to its open sockets; in production the publisher also pushes
    through Redis pub/sub and this table only serves catch-up after a reconnect.
    """

    type = models.CharField(max_length=32)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["created_at"], name="liveevent_created_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type}"


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
    """One entry of the event journal: an anomaly, alert, remediation, operation or system note."""

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
    # Recorded while `manage.py simulate` played fabricated traffic: kept apart from the live
    # alert list (filtered out unless asked for).
    simulated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps the name it had when the monitoring app owned the model.
        db_table = "monitoring_monitoringevent"
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


class HubProcess(models.Model):
    """One supervised process of the hub (web, render workers, ops workers, …) on one host.

    Written only by its supervisor (`manage.py runhub`) every HUB_HEARTBEAT_SECONDS: readiness and
    the dashboard badge read it, in either run mode, whatever host the process runs on.
    A row whose beat is older than HUB_PROCESS_STALE_SECONDS means its supervisor is gone.
    """

    class State(models.TextChoices):
        RUNNING = "running", "running"
        RESTARTING = "restarting", "restarting"
        FAILED = "failed", "failed (gave up)"
        STOPPED = "stopped", "stopped"

    name = models.CharField(max_length=64)
    host = models.CharField(max_length=255)
    state = models.CharField(max_length=12, choices=State.choices)
    pid = models.PositiveIntegerField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    last_exit = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "host"], name="hubprocess_name_host_unique"),
            models.CheckConstraint(
                condition=Q(state__in=["running", "restarting", "failed", "stopped"]),
                name="hubprocess_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.host} ({self.state})"
