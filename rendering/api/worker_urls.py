from __future__ import annotations

from django.urls import path

from rendering.api import worker_views

urlpatterns = [
    path("render/claim", worker_views.ClaimView.as_view(), name="render-claim"),
    path(
        "render/<id:pk>/heartbeat", worker_views.HeartbeatView.as_view(), name="render-heartbeat"
    ),
    path("render/<id:pk>/complete", worker_views.CompleteView.as_view(), name="render-complete"),
    path("render/<id:pk>/fail", worker_views.FailView.as_view(), name="render-fail"),
]
