"""Pull API for `ae` render machines: claim a job, heartbeat while rendering, report the result.

Same transitions as the internal workers, so both kinds of worker race safely on the same queue.
A claim belongs to the API key that made it: the job is held as `ae:<key prefix>:<worker_id>`,
and a report under another key is refused (403) whatever worker id it names. Every report names
its lease (`lease_id`, from the claim); a worker that lost its job (reaped, cancelled, claimed
again) gets 409 `lease_lost`. A completion names a file (or PNG-sequence folder) under
OUTPUT_ROOT that exists; the hub reads its size itself.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import producer_only
from automation_hub.errors import InvalidInput
from rendering.models import PULL_BACKEND, InstructionStatus, RenderInstruction, RenderOutput
from rendering.services.outputs import output_file_read, pull_holder
from rendering.services.transitions.lease import (
    instruction_claim_next,
    instruction_complete,
    instruction_fail,
    instruction_heartbeat,
)


class _WorkerInput(serializers.Serializer):
    worker_id = serializers.CharField(max_length=96)
    lease_id = serializers.UUIDField()


class WorkerApiView(APIView):
    permission_classes = [producer_only("ae")]
    error_responses = {
        "409": "`lease_lost`: this worker no longer holds the job (reaped, cancelled or "
        "claimed again); stop rendering it."
    }

    def holder(self, request: Request, worker_id: str) -> str:
        """The name the queue holds a job under: the caller's key and its worker id."""
        return pull_holder(key_prefix=request.user.key.prefix, worker_id=worker_id)

    def check_own_claim(self, request: Request, pk: int) -> None:
        """403 when the job is held under another API key (its lease is not this key's)."""
        held_by = (
            RenderInstruction.objects.filter(pk=pk, status=InstructionStatus.PROCESSING)
            .values_list("claimed_by", flat=True)
            .first()
        )
        prefix = request.user.key.prefix
        if held_by and held_by.startswith("ae:") and not held_by.startswith(f"ae:{prefix}:"):
            raise PermissionDenied("This job was claimed with another API key.")


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
        worker_id = serializers.CharField(max_length=96)

    @extend_schema(
        request=ClaimInput, responses={200: JobOutput, 204: None}, tags=["render workers"]
    )
    def post(self, request: Request) -> Response:
        payload = self.ClaimInput(data=request.data)
        payload.is_valid(raise_exception=True)
        job = instruction_claim_next(
            worker_id=self.holder(request, payload.validated_data["worker_id"]),
            backend=PULL_BACKEND,
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
        self.check_own_claim(request, pk)
        instruction_heartbeat(
            instruction_id=pk,
            worker_id=self.holder(request, data["worker_id"]),
            lease_id=data["lease_id"],
            progress=data.get("progress"),
        )
        return Response(self.HeartbeatOutput(RenderInstruction.objects.get(pk=pk)).data)


class CompleteView(WorkerApiView):
    class CompleteInput(_WorkerInput):
        output_path = serializers.CharField(
            max_length=1024, help_text="A file or PNG-sequence folder under the output root."
        )
        file_size = serializers.IntegerField(
            min_value=0, required=False, help_text="Optional: checked against the real size."
        )
        frame_count = serializers.IntegerField(min_value=1, required=False)

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
        self.check_own_claim(request, pk)
        found = output_file_read(data["output_path"])
        if "file_size" in data and data["file_size"] != found.file_size:
            raise InvalidInput(
                "file_size differs from the file's size.",
                fields={"file_size": [f"The file is {found.file_size} bytes."]},
            )
        output = instruction_complete(
            instruction_id=pk,
            worker_id=self.holder(request, data["worker_id"]),
            lease_id=data["lease_id"],
            output_path=str(found.path),
            file_size=found.file_size,
            frame_count=data.get("frame_count") or found.frame_count,
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
        self.check_own_claim(request, pk)
        row = instruction_fail(
            instruction_id=pk,
            worker_id=self.holder(request, data["worker_id"]),
            lease_id=data["lease_id"],
            error_message=data["error_message"],
            retryable=data["retryable"],
        )
        return Response(self.FailOutput(row).data)
