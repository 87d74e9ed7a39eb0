"""Everything the monitoring app serves: its JSON API under /api/ and Prometheus /metrics."""

from __future__ import annotations

from django.urls import include, path

from monitoring.api.prometheus import PrometheusView

urlpatterns = [
    path("api/", include("monitoring.api.urls")),
    path("metrics", PrometheusView.as_view(), name="prometheus-metrics"),
]
