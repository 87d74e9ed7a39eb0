"""Manual override API (SPEC §5): retry, edit & retry, cancel, change priority, bulk retry.

For people only (session or HTTP Basic), never producer keys. Each view validates its input,
calls one transition of `rendering.services.transitions.manual` (audited, announced live) and
answers with the instruction's live fields; a state the action cannot start from is a 409 that
says why.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import IsPerson, actor_name
from rendering.api.serializers import InstructionChangesInput
from rendering.models import InstructionStatus
from rendering.services.payloads import instruction_live_data
from rendering.services.transitions import manual
from rendering.services.transitions.table import BULK_RETRY, Actor

REASON_MAX = 2000


def _actor(request: Request) -> Actor:
    return Actor(name=actor_name(request), user=request.user, via="api")


class ReasonField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=REASON_MAX, trim_whitespace=True, **kwargs)


class RetryInput(serializers.Serializer):
    instruction_id = serializers.IntegerField(min_value=1)
    reason = ReasonField()


class CancelInput(RetryInput):
    pass


class EditRetryInput(RetryInput, InstructionChangesInput):
    """Which instruction, why, and its new layer data and/or output settings (each replaces the
    stored one whole; an omitted one is kept)."""


class ChangePriorityInput(RetryInput):
    priority = serializers.IntegerField(min_value=1, max_value=10)


class BulkFilterInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[str(s) for s in BULK_RETRY.sources], default="failed")
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


class InstructionStateOutput(serializers.Serializer):
    """The instruction's live fields after the action (as the dashboard receives them)."""

    id = serializers.IntegerField()
    template_name = serializers.CharField()
    status = serializers.ChoiceField(choices=InstructionStatus.choices)
    priority = serializers.IntegerField(min_value=1, max_value=10)
    trigger_type = serializers.CharField()
    hand_id = serializers.IntegerField(allow_null=True)
    retry_count = serializers.IntegerField(min_value=0)
    render_progress = serializers.IntegerField(min_value=0, max_value=100)
    error_message = serializers.CharField(allow_blank=True)
    correlation_id = serializers.UUIDField()
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class _ActionView(APIView):
    permission_classes = [IsPerson]
    error_responses = {
        "404": "No instruction with that id.",
        "409": "`illegal_transition`: the instruction's state does not allow this action "
        "(the detail says why).",
    }


class RetryView(_ActionView):
    @extend_schema(
        request=RetryInput,
        responses=InstructionStateOutput,
        tags=["actions"],
        description="FAILED/STALE/CANCELLED → PENDING. 409 from PENDING, PROCESSING, COMPLETED.",
    )
    def post(self, request: Request) -> Response:
        payload = RetryInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = manual.instruction_manual_retry(**payload.validated_data, actor=_actor(request))
        return Response(instruction_live_data(row))


class EditRetryView(_ActionView):
    @extend_schema(
        request=EditRetryInput,
        responses=InstructionStateOutput,
        tags=["actions"],
        description="New layer_data / output_settings, validated as a new instruction's "
        "(400 with field errors), then PENDING/FAILED/STALE/CANCELLED → PENDING with a fresh "
        "retry budget; audited before → after. 409 from PROCESSING, COMPLETED.",
    )
    def post(self, request: Request) -> Response:
        payload = EditRetryInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = manual.instruction_edit_retry(**payload.validated_data, actor=_actor(request))
        return Response(instruction_live_data(row))


class CancelView(_ActionView):
    @extend_schema(
        request=CancelInput,
        responses=InstructionStateOutput,
        tags=["actions"],
        description="→ CANCELLED; a worker's later result for it is refused. 409 when finished.",
    )
    def post(self, request: Request) -> Response:
        payload = CancelInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = manual.instruction_cancel(**payload.validated_data, actor=_actor(request))
        return Response(instruction_live_data(row))


class ChangePriorityView(_ActionView):
    @extend_schema(request=ChangePriorityInput, responses=InstructionStateOutput, tags=["actions"])
    def post(self, request: Request) -> Response:
        payload = ChangePriorityInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = manual.instruction_change_priority(**payload.validated_data, actor=_actor(request))
        return Response(instruction_live_data(row))


class BulkRetryView(_ActionView):
    @extend_schema(
        request=BulkRetryInput,
        responses=BulkRetryOutput,
        tags=["actions"],
        description="Re-queue every row the filter matches; `dry_run` only counts them.",
    )
    def post(self, request: Request) -> Response:
        payload = BulkRetryInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = manual.instructions_bulk_retry(
            filter=dict(data["filter"]),
            reason=data["reason"],
            dry_run=data["dry_run"],
            actor=_actor(request),
        )
        return Response(BulkRetryOutput(result).data, status=HTTPStatus.OK)
