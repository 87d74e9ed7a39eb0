"""Producer API of the `sub` system: render instructions in, one at a time or by CSV file."""

from __future__ import annotations

from http import HTTPStatus

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import actor_name, idempotency_scope, person_or_producer
from automation_hub.errors import InvalidInput
from automation_hub.uploads import too_large, upload_cap
from rendering.api.filters import InstructionFilter
from rendering.api.serializers import InstructionInput, InstructionOutput
from rendering.selectors import instruction_list
from rendering.services.csv_import import MAX_CSV_BYTES, instructions_import_csv
from rendering.services.instructions import instruction_create

# The sub desk creates and reads instructions (with their layer data); no other key sees them.
CanCreateInstructions = person_or_producer("sub")
CanReadInstructions = person_or_producer("sub")


class InstructionListCreateView(generics.ListAPIView):
    """GET: instructions, newest first, filtered and paginated. POST: create one (sub)."""

    serializer_class = InstructionOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = InstructionFilter
    error_responses = {
        "409": "This caller's idempotency key was used for a different instruction; "
        "`existing_id` is the first one."
    }

    def get_queryset(self):
        return instruction_list()

    def get_permissions(self):
        if self.request.method == "POST":
            return [CanCreateInstructions()]
        return [CanReadInstructions()]

    @extend_schema(
        request=InstructionInput,
        responses={201: InstructionOutput, 200: InstructionOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="Same as the body's idempotency_key: unique per caller (each API "
                "key, each person), so no other producer can take or answer for it.",
            )
        ],
        tags=["instructions"],
    )
    def post(self, request: Request) -> Response:
        data = request.data.copy() if hasattr(request.data, "copy") else request.data
        header_key = request.headers.get("Idempotency-Key")
        if header_key and isinstance(data, dict) and not data.get("idempotency_key"):
            data["idempotency_key"] = header_key
        payload = InstructionInput(data=data)
        payload.is_valid(raise_exception=True)
        instruction, created = instruction_create(
            **payload.validated_data,
            created_by=actor_name(request),
            idempotency_scope=idempotency_scope(request),
        )
        return Response(
            InstructionOutput(instruction).data,
            status=HTTPStatus.CREATED if created else HTTPStatus.OK,
        )


class InstructionDetailView(generics.RetrieveAPIView):
    serializer_class = InstructionOutput
    permission_classes = [CanReadInstructions]

    def get_queryset(self):
        return instruction_list()


class InstructionImportView(APIView):
    """POST a CSV file (multipart field `file`): all rows are created, or none."""

    parser_classes = [MultiPartParser]
    error_responses = {"413": "The file (or the whole body) is over its size limit."}
    permission_classes = [CanCreateInstructions]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "InstructionImportInput", {"file": serializers.FileField()}
            )
        },
        responses=inline_serializer(
            "InstructionImportResult",
            {
                "created": serializers.IntegerField(),
                "existing": serializers.IntegerField(),
                "instruction_ids": serializers.ListField(child=serializers.IntegerField()),
            },
        ),
        tags=["instructions"],
    )
    def post(self, request: Request) -> Response:
        upload_cap(request, limit=MAX_CSV_BYTES)  # before the body is read
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(
                "Send the CSV as multipart field 'file'.",
                fields={"file": ["No file was submitted."]},
            )
        if upload.size > MAX_CSV_BYTES:
            raise too_large(MAX_CSV_BYTES)
        result = instructions_import_csv(
            content=upload.read(),
            created_by=actor_name(request),
            idempotency_scope=idempotency_scope(request),
        )
        return Response(
            {
                "created": result.created,
                "existing": result.existing,
                "instruction_ids": result.instruction_ids,
            },
            status=HTTPStatus.CREATED if result.created else HTTPStatus.OK,
        )
