from __future__ import annotations

from django.urls import path

from monitoring.api import views

urlpatterns = [
    path("dashboard", views.DashboardView.as_view(), name="dashboard"),
    path("metrics/throughput", views.ThroughputView.as_view(), name="metrics-throughput"),
    path("metrics/latency", views.LatencyView.as_view(), name="metrics-latency"),
    path("metrics/error-rate", views.ErrorRateView.as_view(), name="metrics-error-rate"),
    path("metrics/queue-depth", views.QueueDepthView.as_view(), name="metrics-queue-depth"),
    path("data-flow", views.DataFlowView.as_view(), name="data-flow"),
    path("events", views.EventListView.as_view(), name="event-list"),
    path("events/<id:pk>", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<id:pk>/resolve", views.EventResolveView.as_view(), name="event-resolve"),
    path("orchestrator/status", views.OrchestratorStatusView.as_view(), name="orchestrator-status"),
    path("orchestrator/sync", views.SyncRequestView.as_view(), name="orchestrator-sync"),
    path("orchestrator/sync/<id:pk>", views.SyncRunDetailView.as_view(), name="orchestrator-run"),
]
