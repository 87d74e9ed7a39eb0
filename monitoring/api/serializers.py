from __future__ import annotations

from rest_framework import serializers

from monitoring.models import AuditEntry, MonitoringEvent, Severity, SyncRun, SyncType
from monitoring.selectors import WINDOWS
from rendering.services.actions import RETRYABLE

REASON_MAX = 2000


class WindowInput(serializers.Serializer):
    window = serializers.ChoiceField(choices=list(WINDOWS), default="1h")


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
            "created_at",
        ]


class EventResolveInput(serializers.Serializer):
    resolved_by = serializers.CharField(max_length=150, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class DataFlowInput(serializers.Serializer):
    hand_id = serializers.IntegerField(min_value=1)


class ReasonField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=REASON_MAX, trim_whitespace=True, **kwargs)


class RetryInput(serializers.Serializer):
    instruction_id = serializers.IntegerField(min_value=1)
    reason = ReasonField()


class CancelInput(RetryInput):
    pass


class ChangePriorityInput(RetryInput):
    priority = serializers.IntegerField(min_value=1, max_value=10)


class BulkFilterInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[str(s) for s in RETRYABLE], default="failed")
    created_after = serializers.DateTimeField(required=False, allow_null=True, default=None)
    created_before = serializers.DateTimeField(required=False, allow_null=True, default=None)
    template_name = serializers.CharField(max_length=128, required=False, default="")
    trigger_type = serializers.CharField(max_length=32, required=False, default="")

    def validate(self, attrs: dict) -> dict:
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError(
                {"created_before": ["Must be later than created_after."]}
            )
        return attrs


class BulkRetryInput(serializers.Serializer):
    filter = BulkFilterInput()
    reason = ReasonField()
    dry_run = serializers.BooleanField(default=False)


class BulkRetryOutput(serializers.Serializer):
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())
    dry_run = serializers.BooleanField()
    audit_id = serializers.IntegerField(allow_null=True)


class AuditEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "actor_name",
            "action",
            "reason",
            "target_type",
            "target_ids",
            "before",
            "after",
            "via",
            "created_at",
        ]


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
