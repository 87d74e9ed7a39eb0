"""Monitoring API: dashboard, metrics, data flow, events and the orchestrator.

Reads are open to every authenticated caller (people and producer keys); resolving an event and
starting a sync are for people only. The manual override actions are the render queue's
(`rendering.api.action_views`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import IsPerson, actor_name
from automation_hub.journal import event_resolve
from hands.api.serializers import HandOutput
from hands.models import Hand
from monitoring import selectors
from monitoring.api import serializers as s
from monitoring.api.filters import EventFilter
from monitoring.models import SyncRun
from monitoring.services.orchestrator import sync_request
from rendering.api.serializers import InstructionOutput, OutputOutput

WINDOW_PARAM = OpenApiParameter("window", str, enum=list(selectors.WINDOWS), default="1h")


class DashboardView(APIView):
    @extend_schema(responses=dict, tags=["monitoring"], description="SPEC §5 dashboard summary.")
    def get(self, request: Request) -> Response:
        return Response(selectors.dashboard_summary())


WINDOWS_DOC = (
    "The window ends now: the first bucket starts exactly one window before now, the others "
    "start on whole minutes (so the first may be up to a minute longer and the last as much "
    "shorter); `series` buckets add up to the totals. Figures are read fresh on every call: "
    "the per-minute rollup for settled minutes, the rows themselves for the rest."
)


class _WindowMetricView(APIView):
    selector: Any = None

    def get(self, request: Request) -> Response:
        payload = s.WindowInput(data=request.query_params)
        payload.is_valid(raise_exception=True)
        window = selectors.window_get(payload.validated_data["window"])
        return Response(type(self).selector(window=window))


def _window_schema(description: str) -> Any:
    return extend_schema_view(
        get=extend_schema(
            parameters=[WINDOW_PARAM],
            responses=dict,
            tags=["monitoring"],
            description=f"{description} {WINDOWS_DOC}",
        )
    )


@_window_schema("Completed instructions in the window: `value`, `per_hour`, `series`.")
class ThroughputView(_WindowMetricView):
    selector = staticmethod(selectors.metrics_throughput)


@_window_schema(
    "created → completed latency of the instructions completed in the window: `count`, "
    "`avg_seconds` (exact), `p50_seconds` and `p95_seconds` (`value` = p50), and per bucket "
    "`count` and `avg_seconds`. The percentiles are read from a latency histogram with "
    "8 log-scale buckets per doubling: each is within ±4.4 % of the exact nearest-rank value "
    "(0 stays 0)."
)
class LatencyView(_WindowMetricView):
    selector = staticmethod(selectors.metrics_latency)


@_window_schema(
    "Failed share of the instructions that finished (completed or failed) in the window, by "
    "`completed_at`: `value`, `failed`, `finished`, `series`. A failed row that is retried or "
    "cancelled leaves the count at once."
)
class ErrorRateView(_WindowMetricView):
    selector = staticmethod(selectors.metrics_error_rate)


class QueueDepthView(APIView):
    @extend_schema(responses=dict, tags=["monitoring"])
    def get(self, request: Request) -> Response:
        return Response(selectors.metrics_queue_depth())


class DataFlowView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("hand_id", int, required=True)],
        responses=dict,
        tags=["monitoring"],
        description="One hand's story: instructions, outputs, status chain, correlated events.",
    )
    def get(self, request: Request) -> Response:
        payload = s.DataFlowInput(data=request.query_params)
        payload.is_valid(raise_exception=True)
        hand = get_object_or_404(Hand, pk=payload.validated_data["hand_id"])
        flow = selectors.data_flow(hand=hand)
        return Response(
            {
                "hand": HandOutput(flow["hand"]).data,
                "instructions": InstructionOutput(flow["instructions"], many=True).data,
                "outputs": OutputOutput(flow["outputs"], many=True).data,
                "status_chain": flow["status_chain"],
                "events": s.EventOutput(flow["events"], many=True).data,
                "complete": flow["complete"],
            }
        )


@extend_schema(tags=["events"])
class EventListView(generics.ListAPIView):
    """Events, newest first: `?severity=error,critical&resolved=false&code=&since=` (paginated)."""

    serializer_class = s.EventOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = EventFilter

    def get_queryset(self):
        return selectors.event_list()


@extend_schema(tags=["events"])
class EventDetailView(generics.RetrieveAPIView):
    serializer_class = s.EventOutput

    def get_queryset(self):
        return selectors.event_list()


class EventResolveView(APIView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(request=s.EventResolveInput, responses=s.EventOutput, tags=["events"])
    def post(self, request: Request, pk: int) -> Response:
        payload = s.EventResolveInput(data=request.data)
        payload.is_valid(raise_exception=True)
        event = event_resolve(
            event_id=pk,
            resolved_by=payload.validated_data.get("resolved_by") or actor_name(request),
            notes=payload.validated_data["notes"],
        )
        return Response(s.EventOutput(event).data)


class OrchestratorStatusView(APIView):
    @extend_schema(responses=dict, tags=["orchestrator"])
    def get(self, request: Request) -> Response:
        return Response(selectors.orchestrator_status())


class SyncRequestView(APIView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        request=s.SyncInput,
        responses={202: s.SyncRunOutput},
        tags=["orchestrator"],
        description="Start a full or incremental reconciliation in the background.",
    )
    def post(self, request: Request) -> Response:
        payload = s.SyncInput(data=request.data)
        payload.is_valid(raise_exception=True)
        run = sync_request(type=payload.validated_data["type"], requested_by=actor_name(request))
        return Response(s.SyncRunOutput(run).data, status=HTTPStatus.ACCEPTED)


@extend_schema(tags=["orchestrator"])
class SyncRunDetailView(generics.RetrieveAPIView):
    serializer_class = s.SyncRunOutput

    def get_queryset(self):
        return SyncRun.objects.all()
