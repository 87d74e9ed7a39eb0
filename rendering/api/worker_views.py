"""Pull API for `ae` render machines: claim a job, heartbeat while rendering, report the result.

Same services as the internal workers, so both kinds of worker race safely on the same queue.
A worker that lost its job (reaped, cancelled, claimed by another) gets 409 `lease_lost`.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import producer_only
from rendering.models import RenderInstruction, RenderOutput
from rendering.services.transitions.lease import (
    instruction_claim_next,
    instruction_complete,
    instruction_fail,
    instruction_heartbeat,
)

PULL_BACKEND = "ae"


class _WorkerInput(serializers.Serializer):
    worker_id = serializers.CharField(max_length=128)
    lease_id = serializers.UUIDField(required=False, allow_null=True)


class WorkerApiView(APIView):
    permission_classes = [producer_only("ae")]
    error_responses = {
        "409": "`lease_lost`: this worker no longer holds the job (reaped, cancelled or "
        "claimed again); stop rendering it."
    }


class JobOutput(serializers.ModelSerializer):
    class Meta:
        model = RenderInstruction
        fields = [
            "id",
            "lease_id",
            "template_name",
            "layer_data",
            "output_settings",
            "priority",
            "trigger_type",
            "hand",
            "correlation_id",
            "retry_count",
            "max_retries",
            "claimed_by",
            "heartbeat_at",
            "started_at",
        ]


class ClaimView(WorkerApiView):
    class ClaimInput(serializers.Serializer):
        worker_id = serializers.CharField(max_length=128)

    @extend_schema(
        request=ClaimInput, responses={200: JobOutput, 204: None}, tags=["render workers"]
    )
    def post(self, request: Request) -> Response:
        payload = self.ClaimInput(data=request.data)
        payload.is_valid(raise_exception=True)
        job = instruction_claim_next(
            worker_id=payload.validated_data["worker_id"], backend=PULL_BACKEND
        )
        if job is None:
            return Response(status=HTTPStatus.NO_CONTENT)
        return Response(JobOutput(job).data)


class HeartbeatView(WorkerApiView):
    class HeartbeatInput(_WorkerInput):
        progress = serializers.IntegerField(min_value=0, max_value=100, required=False)

    class HeartbeatOutput(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        render_progress = serializers.IntegerField()
        heartbeat_at = serializers.DateTimeField()

    @extend_schema(
        request=HeartbeatInput, responses={200: HeartbeatOutput}, tags=["render workers"]
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = self.HeartbeatInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        instruction_heartbeat(
            instruction_id=pk,
            worker_id=data["worker_id"],
            lease_id=data.get("lease_id"),
            progress=data.get("progress"),
        )
        return Response(self.HeartbeatOutput(RenderInstruction.objects.get(pk=pk)).data)


class CompleteView(WorkerApiView):
    class CompleteInput(_WorkerInput):
        output_path = serializers.CharField(max_length=1024)
        file_size = serializers.IntegerField(min_value=0)
        frame_count = serializers.IntegerField(min_value=1, default=1)

    class CompleteOutput(serializers.ModelSerializer):
        class Meta:
            model = RenderOutput
            fields = [
                "id",
                "instruction",
                "output_path",
                "file_size",
                "frame_count",
                "status",
                "completed_at",
            ]

    @extend_schema(request=CompleteInput, responses={200: CompleteOutput}, tags=["render workers"])
    def post(self, request: Request, pk: int) -> Response:
        payload = self.CompleteInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        output = instruction_complete(
            instruction_id=pk,
            worker_id=data["worker_id"],
            lease_id=data.get("lease_id"),
            output_path=data["output_path"],
            file_size=data["file_size"],
            frame_count=data["frame_count"],
        )
        return Response(self.CompleteOutput(output).data)


class FailView(WorkerApiView):
    class FailInput(_WorkerInput):
        error_message = serializers.CharField(max_length=4000)
        retryable = serializers.BooleanField(default=True)

    class FailOutput(serializers.ModelSerializer):
        class Meta:
            model = RenderInstruction
            fields = [
                "id",
                "status",
                "error_message",
                "retry_count",
                "max_retries",
                "next_attempt_at",
            ]

    @extend_schema(request=FailInput, responses={200: FailOutput}, tags=["render workers"])
    def post(self, request: Request, pk: int) -> Response:
        payload = self.FailInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        row = instruction_fail(
            instruction_id=pk,
            worker_id=data["worker_id"],
            lease_id=data.get("lease_id"),
            error_message=data["error_message"],
            retryable=data["retryable"],
        )
        return Response(self.FailOutput(row).data)
