"""Input serializers of the monitoring API, and the Output serializers that turn the read models
of `monitoring.selectors` into JSON (one per read model, nested as the bodies are)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from automation_hub.models import MonitoringEvent, Severity
from hands.api.serializers import HandOutput
from monitoring.models import BlockStatus, SyncRun, SyncType
from monitoring.selectors.flow import OUTPUT, ChainStep
from monitoring.selectors.orchestrator import Block
from monitoring.selectors.producers import PRODUCER_STATUSES
from monitoring.selectors.windows import WINDOWS
from rendering.api.serializers import InstructionOutput, OutputOutput


class WindowInput(serializers.Serializer):
    window = serializers.ChoiceField(choices=list(WINDOWS), default="1h")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A query string's `?window=` would otherwise fall back to the default unseen.
        if self.initial_data.get("window") == "":
            raise serializers.ValidationError({"window": ["Give a window, or leave it out."]})
        return attrs


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = MonitoringEvent
        fields = [
            "id",
            "type",
            "code",
            "severity",
            "source",
            "message",
            "details",
            "instruction",
            "hand",
            "correlation_id",
            "dedup_key",
            "resolved",
            "resolved_by",
            "resolved_at",
            "notes",
            "simulated",
            "created_at",
        ]


class EventResolveInput(serializers.Serializer):
    """Who resolves is the authenticated caller (the view's business), not part of the input."""

    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class DataFlowInput(serializers.Serializer):
    hand_id = serializers.IntegerField(min_value=1)


SEVERITY_CHOICES = Severity.values


class SyncInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=SyncType.values, default=SyncType.INCREMENTAL)


class SyncRunOutput(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "type",
            "status",
            "requested_by",
            "since",
            "counts",
            "problems",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


# --------------------------------------------------------------------------------------------------
# Read models → JSON
# --------------------------------------------------------------------------------------------------


class IsoDateTimeField(serializers.DateTimeField):
    """An aware datetime exactly as `datetime.isoformat()` writes it, in the zone it was read
    in (UTC, `+00:00`): the form these read APIs have always sent, not DRF's `Z` form shifted
    into the hub's TIME_ZONE."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class ThroughputBucketOutput(serializers.Serializer):
    start = IsoDateTimeField()
    value = serializers.IntegerField()


class ThroughputOutput(serializers.Serializer):
    window = serializers.CharField(source="window.name")
    value = serializers.IntegerField()
    per_hour = serializers.FloatField()
    unit = serializers.CharField()
    bucket_seconds = serializers.IntegerField(source="window.bucket_seconds")
    series = ThroughputBucketOutput(many=True)


class LatencyBucketOutput(serializers.Serializer):
    start = IsoDateTimeField()
    count = serializers.IntegerField()
    avg_seconds = serializers.FloatField(allow_null=True)


class LatencyOutput(serializers.Serializer):
    window = serializers.CharField(source="window.name")
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()
    count = serializers.IntegerField(source="stats.count")
    avg_seconds = serializers.FloatField(source="stats.avg_seconds", allow_null=True)
    p50_seconds = serializers.FloatField(source="stats.p50_seconds", allow_null=True)
    p95_seconds = serializers.FloatField(source="stats.p95_seconds", allow_null=True)
    bucket_seconds = serializers.IntegerField(source="window.bucket_seconds")
    series = LatencyBucketOutput(many=True)


class ErrorRateBucketOutput(serializers.Serializer):
    start = IsoDateTimeField()
    failed = serializers.IntegerField()
    finished = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True)


class ErrorRateOutput(serializers.Serializer):
    window = serializers.CharField(source="window.name")
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()
    failed = serializers.IntegerField()
    finished = serializers.IntegerField()
    bucket_seconds = serializers.IntegerField(source="window.bucket_seconds")
    series = ErrorRateBucketOutput(many=True)


class QueueDepthOutput(serializers.Serializer):
    pending = serializers.IntegerField()
    processing = serializers.IntegerField()
    stale = serializers.IntegerField()
    pending_by_priority = serializers.DictField(child=serializers.IntegerField())
    oldest_pending_seconds = serializers.FloatField(allow_null=True)


class _ProducerOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=PRODUCER_STATUSES)
    last_activity = IsoDateTimeField(allow_null=True)


class FeatureTableOutput(_ProducerOutput):
    hands_today = serializers.IntegerField()


class SubOutput(_ProducerOutput):
    instructions_created = serializers.IntegerField()


class WorkerStatusOutput(serializers.Serializer):
    processing = serializers.IntegerField()
    workers = serializers.IntegerField()
    open_circuits = serializers.ListField(child=serializers.CharField())


class AeOutput(_ProducerOutput):
    worker_status = WorkerStatusOutput()
    outputs_completed = serializers.IntegerField()


class ProjectsOutput(serializers.Serializer):
    feature_table = FeatureTableOutput()
    sub = SubOutput()
    ae = AeOutput()


class QueueCountsOutput(serializers.Serializer):
    pending = serializers.IntegerField()
    processing = serializers.IntegerField()


class DashboardMetricsOutput(serializers.Serializer):
    throughput_1h = serializers.IntegerField()
    avg_latency_1h = serializers.FloatField(allow_null=True)
    error_rate_1h = serializers.FloatField(allow_null=True)
    queue_depth = QueueCountsOutput()


class AlertOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    message = serializers.CharField()
    instruction_id = serializers.IntegerField(allow_null=True)
    hand_id = serializers.IntegerField(allow_null=True)
    created_at = IsoDateTimeField()


class FlowHealthOutput(serializers.Serializer):
    orphan_hands = serializers.IntegerField()
    delayed_instructions = serializers.IntegerField()
    completion_rate = serializers.FloatField(allow_null=True)


class DashboardOutput(serializers.Serializer):
    projects = ProjectsOutput()
    metrics = DashboardMetricsOutput()
    active_alerts = AlertOutput(many=True)
    data_flow_health = FlowHealthOutput()


class ChainStepOutput(serializers.Serializer):
    """`instruction_id` appears on output steps only."""

    stage = serializers.ChoiceField(choices=["hand", "instruction", "output"])
    id = serializers.IntegerField()
    instruction_id = serializers.IntegerField(required=False)
    status = serializers.CharField()
    at = IsoDateTimeField(allow_null=True)

    def to_representation(self, instance: ChainStep) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.stage != OUTPUT:
            del data["instruction_id"]
        return data


class DataFlowOutput(serializers.Serializer):
    hand = HandOutput()
    instructions = InstructionOutput(many=True)
    outputs = OutputOutput(many=True)
    status_chain = ChainStepOutput(many=True)
    events = EventOutput(many=True)
    complete = serializers.BooleanField()


class BlockOutput(serializers.Serializer):
    """`health` appears on producer blocks only, `circuit` on renderer blocks only."""

    OPTIONAL = ("health", "circuit")

    name = serializers.CharField()
    status = serializers.ChoiceField(choices=BlockStatus.choices)
    last_activity = IsoDateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    items_processed = serializers.IntegerField()
    items_total = serializers.IntegerField()
    health = serializers.ChoiceField(choices=PRODUCER_STATUSES, required=False)
    circuit = serializers.CharField(required=False)

    def to_representation(self, instance: Block) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in self.OPTIONAL:
            if getattr(instance, name) is None:
                del data[name]
        return data


class LastSyncOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SyncRun.Status.choices)
    finished_at = IsoDateTimeField()
    problems = serializers.IntegerField()


class NextRunOutput(serializers.Serializer):
    full = IsoDateTimeField(allow_null=True)
    incremental = IsoDateTimeField(allow_null=True)


class OrchestratorStatusOutput(serializers.Serializer):
    overall = serializers.ChoiceField(choices=BlockStatus.choices)
    blocks = BlockOutput(many=True)
    last_full_sync = LastSyncOutput(allow_null=True)
    next_run = NextRunOutput()
