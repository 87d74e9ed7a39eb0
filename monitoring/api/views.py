"""Monitoring API: dashboard, metrics, data flow, events and the orchestrator.

For people only (the default permission): no producer key reads the whole operation. The manual
override actions are the render queue's (`rendering.api.action_views`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import actor_name
from automation_hub.journal import event_resolve
from automation_hub.models import MonitoringEvent
from hands.models import Hand
from monitoring.api import serializers as s
from monitoring.api.filters import EventFilter
from monitoring.models import SyncRun
from monitoring.selectors.dashboard import dashboard_summary
from monitoring.selectors.events import event_list
from monitoring.selectors.flow import data_flow
from monitoring.selectors.metrics import metrics_error_rate, metrics_latency, metrics_throughput
from monitoring.selectors.orchestrator import orchestrator_status
from monitoring.selectors.queue import metrics_queue_depth
from monitoring.selectors.windows import WINDOWS, window_get
from monitoring.services.orchestrator import sync_request

WINDOW_PARAM = OpenApiParameter("window", str, enum=list(WINDOWS), default="1h")


class DashboardView(APIView):
    @extend_schema(
        responses=s.DashboardOutput, tags=["monitoring"], description="SPEC §5 dashboard summary."
    )
    def get(self, request: Request) -> Response:
        return Response(s.DashboardOutput(dashboard_summary()).data)


WINDOWS_DOC = (
    "The window ends now: the first bucket starts exactly one window before now, the others "
    "start on whole minutes (so the first may be up to a minute longer and the last as much "
    "shorter); `series` buckets add up to the totals. Figures are read fresh on every call: "
    "the per-minute rollup for settled minutes, the rows themselves for the rest."
)


class _WindowMetricView(APIView):
    """Validate the window, read the metric's model over it, serialize it."""

    selector: Any = None
    output: type[serializers.Serializer] = serializers.Serializer

    def get(self, request: Request) -> Response:
        payload = s.WindowInput(data=request.query_params)
        payload.is_valid(raise_exception=True)
        window = window_get(payload.validated_data["window"])
        return Response(self.output(type(self).selector(window=window)).data)


def _window_schema(description: str, output: type[serializers.Serializer]) -> Any:
    return extend_schema_view(
        get=extend_schema(
            parameters=[WINDOW_PARAM],
            responses=output,
            tags=["monitoring"],
            description=f"{description} {WINDOWS_DOC}",
        )
    )


@_window_schema(
    "Completed instructions in the window: `value`, `per_hour`, `series`.", s.ThroughputOutput
)
class ThroughputView(_WindowMetricView):
    selector = staticmethod(metrics_throughput)
    output = s.ThroughputOutput


@_window_schema(
    "created → completed latency of the instructions completed in the window: `count`, "
    "`avg_seconds` (exact), `p50_seconds` and `p95_seconds` (`value` = p50), and per bucket "
    "`count` and `avg_seconds`. The percentiles are read from a latency histogram with "
    "8 log-scale buckets per doubling: each is within ±4.4 % of the exact nearest-rank value "
    "(0 stays 0).",
    s.LatencyOutput,
)
class LatencyView(_WindowMetricView):
    selector = staticmethod(metrics_latency)
    output = s.LatencyOutput


@_window_schema(
    "Failed share of the instructions that finished (completed or failed) in the window, by "
    "`completed_at`: `value`, `failed`, `finished`, `series`. A failed row that is retried or "
    "cancelled leaves the count at once.",
    s.ErrorRateOutput,
)
class ErrorRateView(_WindowMetricView):
    selector = staticmethod(metrics_error_rate)
    output = s.ErrorRateOutput


class QueueDepthView(APIView):
    @extend_schema(responses=s.QueueDepthOutput, tags=["monitoring"])
    def get(self, request: Request) -> Response:
        return Response(s.QueueDepthOutput(metrics_queue_depth()).data)


class DataFlowView(APIView):
    read_error_responses = {"404": "No hand with that id."}
    @extend_schema(
        parameters=[OpenApiParameter("hand_id", int, required=True)],
        responses=s.DataFlowOutput,
        tags=["monitoring"],
        description="One hand's story: instructions, outputs, status chain, correlated events.",
    )
    def get(self, request: Request) -> Response:
        payload = s.DataFlowInput(data=request.query_params)
        payload.is_valid(raise_exception=True)
        hand = get_object_or_404(Hand, pk=payload.validated_data["hand_id"])
        return Response(s.DataFlowOutput(data_flow(hand=hand)).data)


@extend_schema(tags=["events"])
class EventListView(generics.ListAPIView):
    """Events, newest first: `?severity=error,critical&resolved=false&code=&since=` (paginated)."""

    serializer_class = s.EventOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = EventFilter

    def get_queryset(self) -> QuerySet[MonitoringEvent]:
        return event_list()


@extend_schema(tags=["events"])
class EventDetailView(generics.RetrieveAPIView):
    serializer_class = s.EventOutput

    def get_queryset(self) -> QuerySet[MonitoringEvent]:
        return event_list()


class EventResolveView(APIView):
    error_responses = {"409": "The event was already resolved (`resolved_by` says by whom)."}

    @extend_schema(
        request=s.EventResolveInput,
        responses=s.EventOutput,
        tags=["events"],
        description=(
            "Close an open event. `resolved_by` is the signed-in caller, never a value from the "
            "body. 409 if it is already resolved."
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = s.EventResolveInput(data=request.data)
        payload.is_valid(raise_exception=True)
        event = event_resolve(
            event_id=pk,
            resolved_by=actor_name(request),
            notes=payload.validated_data["notes"],
        )
        return Response(s.EventOutput(event).data)


class OrchestratorStatusView(APIView):
    @extend_schema(responses=s.OrchestratorStatusOutput, tags=["orchestrator"])
    def get(self, request: Request) -> Response:
        return Response(s.OrchestratorStatusOutput(orchestrator_status()).data)


class SyncRequestView(APIView):

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
