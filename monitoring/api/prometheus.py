"""`GET /metrics`: the monitoring figures in the Prometheus text format (version 0.0.4).

Access: any authenticated caller (person or API key), or an unauthenticated scrape from the
loopback interface (a Prometheus agent on the hub's host). A request that came through a proxy
(`X-Forwarded-For` set) never counts as loopback, because behind a proxy on the same host every
client would. `METRICS_ALLOW_LOOPBACK=false` turns the loopback exception off.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.models import MonitoringEvent, Severity
from monitoring import selectors
from monitoring.rollup_selectors import rollup_snapshot


class PrometheusRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data).encode()  # error bodies


def is_loopback(request: Request) -> bool:
    if not getattr(settings, "METRICS_ALLOW_LOOPBACK", True):
        return False
    if request.META.get("HTTP_X_FORWARDED_FOR") or request.META.get("HTTP_FORWARDED"):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


class AuthenticatedOrLoopback(BasePermission):
    message = "Authenticate, or scrape from the hub's own host."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated) or is_loopback(request)


def _line(name: str, value: float | int | None, labels: dict[str, str] | None = None) -> str:
    label_text = ""
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        label_text = "{" + inner + "}"
    shown = "NaN" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return f"{name}{label_text} {shown}"


def _metric(kind: str, name: str, help_text: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def prometheus_text() -> str:
    with rollup_snapshot():
        return _prometheus_text(timezone.now())


def _prometheus_text(now: datetime) -> str:
    hour_ago = now - timedelta(hours=1)
    queue = selectors.queue_summary(now=now)
    depth = selectors.metrics_queue_depth(now=now, queue=queue)
    latency = selectors.latency_stats(start=hour_ago, end=now)
    failed = selectors.failed_between(hour_ago, now)
    finished = failed + latency["count"]
    open_events = dict(
        MonitoringEvent.objects.filter(resolved=False)
        .values_list("severity")
        .annotate(n=Count("*"))
        .order_by()
    )
    projects = selectors.projects_summary(now=now)
    out: list[str] = []
    out += _metric(
        "gauge",
        "hub_queue_depth",
        "Render instructions waiting or running, by status.",
        [
            _line("hub_queue_depth", depth[k], {"status": k})
            for k in ("pending", "processing", "stale")
        ],
    )
    out += _metric(
        "gauge",
        "hub_oldest_pending_seconds",
        "Age of the oldest PENDING instruction.",
        [_line("hub_oldest_pending_seconds", depth["oldest_pending_seconds"])],
    )
    out += _metric(
        "gauge",
        "hub_completed_1h",
        "Instructions completed in the last hour.",
        [_line("hub_completed_1h", latency["count"])],
    )
    out += _metric(
        "gauge",
        "hub_latency_1h_seconds",
        "created → completed latency of the last hour's completions (quantiles read from a "
        "histogram: within ±4.4 %).",
        [
            _line("hub_latency_1h_seconds", latency["p50_seconds"], {"quantile": "0.5"}),
            _line("hub_latency_1h_seconds", latency["p95_seconds"], {"quantile": "0.95"}),
            _line("hub_latency_1h_seconds", latency["avg_seconds"], {"quantile": "mean"}),
        ],
    )
    out += _metric(
        "gauge",
        "hub_error_rate_1h",
        "Failed share of the last hour's finished instructions.",
        [_line("hub_error_rate_1h", failed / finished if finished else None)],
    )
    out += _metric(
        "gauge",
        "hub_open_events",
        "Unresolved monitoring events by severity.",
        [
            _line("hub_open_events", open_events.get(sev, 0), {"severity": sev})
            for sev in Severity.values
        ],
    )
    out += _metric(
        "gauge",
        "hub_orphan_hands",
        "Premium hands past the grace period without an instruction.",
        [_line("hub_orphan_hands", selectors.orphan_hands(now=now).count())],
    )
    out += _metric(
        "gauge",
        "hub_delayed_instructions",
        "PENDING instructions older than the delay threshold.",
        [_line("hub_delayed_instructions", queue.delayed)],
    )
    out += _metric(
        "gauge",
        "hub_producer_up",
        "1 when the producer was active within the stale threshold.",
        [
            _line("hub_producer_up", int(p["status"] == "active"), {"producer": name})
            for name, p in projects.items()
        ],
    )
    return "\n".join(out) + "\n"


class PrometheusView(APIView):
    permission_classes = [AuthenticatedOrLoopback]
    renderer_classes = [PrometheusRenderer]

    @extend_schema(
        responses={(200, "text/plain"): OpenApiTypes.STR},
        tags=["monitoring"],
        description="Prometheus text format. Authenticated callers, or loopback scrapes.",
    )
    def get(self, request: Request) -> Response:
        return Response(prometheus_text(), content_type="text/plain; version=0.0.4; charset=utf-8")
