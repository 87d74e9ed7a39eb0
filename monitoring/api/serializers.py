from __future__ import annotations

from rest_framework import serializers

from automation_hub.models import MonitoringEvent, Severity
from monitoring.models import SyncRun, SyncType
from monitoring.selectors import WINDOWS


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
