"""`GET /metrics`: the monitoring figures in the Prometheus text format (version 0.0.4).

Access: a scrape credential, i.e. a `metrics` API key or a person (HTTP Basic / session); other
producer keys are refused. `METRICS_PUBLIC=true` lets anyone who can reach it scrape (where only
the Prometheus host can). No address counts as trusted: behind a reverse proxy on the same host,
every client would look local.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import MetricsScrape
from automation_hub.models import Severity
from monitoring.selectors.events import open_event_counts
from monitoring.selectors.health import orphan_hands
from monitoring.selectors.metrics import LatencyStats, failed_between, latency_stats
from monitoring.selectors.producers import ACTIVE, Projects, projects_summary
from monitoring.selectors.queue import QueueDepth, QueueSummary, metrics_queue_depth, queue_summary
from monitoring.selectors.rollup import rollup_snapshot


class PrometheusRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data).encode()  # error bodies


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
    """Every figure read at one `now` (inside the caller's rollup snapshot)."""
    hour_ago = now - timedelta(hours=1)
    queue = queue_summary(now=now)
    depth = metrics_queue_depth(now=now, queue=queue)
    latency = latency_stats(start=hour_ago, end=now)
    failed = failed_between(hour_ago, now)
    open_events = open_event_counts()
    projects = projects_summary(now=now)
    out = [
        *_queue_metrics(depth),
        *_latency_metrics(latency, failed),
        *_health_metrics(now, queue, open_events, projects),
    ]
    return "\n".join(out) + "\n"


def _queue_metrics(depth: QueueDepth) -> list[str]:
    return [
        *_metric(
            "gauge",
            "hub_queue_depth",
            "Render instructions waiting or running, by status.",
            [
                _line("hub_queue_depth", getattr(depth, k), {"status": k})
                for k in ("pending", "processing", "stale")
            ],
        ),
        *_metric(
            "gauge",
            "hub_oldest_pending_seconds",
            "Age of the oldest PENDING instruction.",
            [_line("hub_oldest_pending_seconds", depth.oldest_pending_seconds)],
        ),
    ]


def _latency_metrics(latency: LatencyStats, failed: int) -> list[str]:
    """The last hour's completions, their latency, and the failed share of what finished."""
    finished = failed + latency.count
    return [
        *_metric(
            "gauge",
            "hub_completed_1h",
            "Instructions completed in the last hour.",
            [_line("hub_completed_1h", latency.count)],
        ),
        *_metric(
            "gauge",
            "hub_latency_1h_seconds",
            "created → completed latency of the last hour's completions (quantiles read from a "
            "histogram: within ±4.4 %).",
            [
                _line("hub_latency_1h_seconds", latency.p50_seconds, {"quantile": "0.5"}),
                _line("hub_latency_1h_seconds", latency.p95_seconds, {"quantile": "0.95"}),
                _line("hub_latency_1h_seconds", latency.avg_seconds, {"quantile": "mean"}),
            ],
        ),
        *_metric(
            "gauge",
            "hub_error_rate_1h",
            "Failed share of the last hour's finished instructions.",
            [_line("hub_error_rate_1h", failed / finished if finished else None)],
        ),
    ]


def _health_metrics(
    now: datetime, queue: QueueSummary, open_events: dict[str, int], projects: Projects
) -> list[str]:
    """Open events, data-flow health and the producers (the orphan count is read here)."""
    return [
        *_metric(
            "gauge",
            "hub_open_events",
            "Unresolved monitoring events by severity.",
            [
                _line("hub_open_events", open_events.get(sev, 0), {"severity": sev})
                for sev in Severity.values
            ],
        ),
        *_metric(
            "gauge",
            "hub_orphan_hands",
            "Premium hands past the grace period without an instruction.",
            [_line("hub_orphan_hands", orphan_hands(now=now).count())],
        ),
        *_metric(
            "gauge",
            "hub_delayed_instructions",
            "PENDING instructions older than the delay threshold.",
            [_line("hub_delayed_instructions", queue.delayed)],
        ),
        *_metric(
            "gauge",
            "hub_producer_up",
            "1 when the producer was active within the stale threshold.",
            [
                _line("hub_producer_up", int(p.status == ACTIVE), {"producer": name})
                for name, p in projects.by_name()
            ],
        ),
    ]


class PrometheusView(APIView):
    permission_classes = [MetricsScrape]
    renderer_classes = [PrometheusRenderer]

    @extend_schema(
        responses={(200, "text/plain"): OpenApiTypes.STR},
        tags=["monitoring"],
        description=(
            "Prometheus text format. A `metrics` API key or a person; anyone when the hub "
            "runs with METRICS_PUBLIC=true."
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(prometheus_text(), content_type="text/plain; version=0.0.4; charset=utf-8")
