from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import serializers

from automation_hub.api.parsers import MAX_JSON_DEPTH, json_depth_exceeds
from hands.models import Hand
from rendering.models import OutputFormat, RenderInstruction, RenderOutput
from rendering.renderers.capabilities import output_settings_problems
from rendering.services.instructions import output_settings_with_defaults

TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
TRIGGER_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RESOLUTION_RE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")
MAX_LAYER_DATA_BYTES = 64 * 1024


class OutputSettingsInput(serializers.Serializer):
    """Known keys are checked; other scalar keys (codec, …) pass through to the renderer."""

    format = serializers.ChoiceField(choices=OutputFormat.values, required=False)
    resolution = serializers.CharField(required=False, max_length=11)
    fps = serializers.IntegerField(min_value=1, max_value=120, required=False)
    frame_count = serializers.IntegerField(min_value=1, max_value=10_000, required=False)

    def validate_resolution(self, value: str) -> str:
        if not RESOLUTION_RE.match(value):
            raise serializers.ValidationError("Write it as WIDTHxHEIGHT, e.g. 1920x1080.")
        return value

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object of output settings.")
        known = super().to_internal_value(data)
        extra = {k: v for k, v in data.items() if k not in self.fields}
        bad = [k for k, v in extra.items() if not isinstance(v, str | int | float | bool)]
        if bad:
            raise serializers.ValidationError(
                {k: ["Must be a string, number or boolean."] for k in bad}
            )
        return {**extra, **known}


class InstructionInput(serializers.Serializer):
    template_name = serializers.CharField(max_length=128)
    layer_data = serializers.JSONField(required=False, default=dict)
    output_settings = OutputSettingsInput(required=False, default=dict)
    priority = serializers.IntegerField(min_value=1, max_value=10, default=5)
    trigger_type = serializers.CharField(max_length=32, default="manual")
    trigger_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    hand = serializers.PrimaryKeyRelatedField(
        queryset=Hand.objects.all(), required=False, allow_null=True, default=None
    )
    idempotency_key = serializers.CharField(
        max_length=128, required=False, allow_null=True, default=None
    )
    max_retries = serializers.IntegerField(min_value=0, max_value=10, required=False)

    def validate_template_name(self, value: str) -> str:
        if not TEMPLATE_NAME_RE.match(value):
            raise serializers.ValidationError(
                "Use letters, digits, '-', '_' or '.', starting with a letter or digit."
            )
        return value

    def validate_trigger_type(self, value: str) -> str:
        if not TRIGGER_TYPE_RE.match(value):
            raise serializers.ValidationError(
                "Use lower-case letters, digits and '_', e.g. premium_hand or elimination."
            )
        return value

    def validate_layer_data(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected an object of layer values.")
        if json_depth_exceeds(value):
            raise serializers.ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.")
        if len(json.dumps(value)) > MAX_LAYER_DATA_BYTES:
            raise serializers.ValidationError(f"Larger than {MAX_LAYER_DATA_BYTES} bytes.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        renderable_check(attrs.get("output_settings") or {})
        return attrs


def renderable_check(output_settings: dict[str, Any]) -> None:
    """400 with a message per output setting the configured render backend cannot render
    (`rendering.renderers.capabilities`), with the defaults a new instruction gets filled in."""
    problems = output_settings_problems(output_settings_with_defaults(output_settings))
    if problems:
        raise serializers.ValidationError({"output_settings": problems})


class InstructionChangesInput(serializers.Serializer):
    """The editable part of an instruction (edit & retry), checked as a new one's would be."""

    layer_data = serializers.JSONField(required=False)
    output_settings = OutputSettingsInput(required=False)

    validate_layer_data = InstructionInput.validate_layer_data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "layer_data" not in attrs and "output_settings" not in attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send layer_data, output_settings or both."]}
            )
        if "output_settings" in attrs:
            renderable_check(attrs["output_settings"])
        return attrs


class OutputOutput(serializers.ModelSerializer):
    class Meta:
        model = RenderOutput
        fields = [
            "id",
            "output_path",
            "file_size",
            "frame_count",
            "status",
            "error_message",
            "created_at",
            "completed_at",
        ]


class InstructionOutput(serializers.ModelSerializer):
    outputs = OutputOutput(many=True, read_only=True)

    class Meta:
        model = RenderInstruction
        fields = [
            "id",
            "template_name",
            "layer_data",
            "output_settings",
            "status",
            "priority",
            "trigger_type",
            "trigger_id",
            "hand",
            "correlation_id",
            "idempotency_scope",
            "idempotency_key",
            "created_by",
            "retry_count",
            "max_retries",
            "error_message",
            "claimed_by",
            "heartbeat_at",
            "next_attempt_at",
            "backend",
            "render_progress",
            "created_at",
            "updated_at",
            "started_at",
            "completed_at",
            "outputs",
        ]
