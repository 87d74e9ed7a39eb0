"""WebSocket routes (asgi.py wraps them in the Origin check and session authentication)."""

from __future__ import annotations

from django.urls import URLPattern, path

from automation_hub.consumers import DashboardConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/dashboard", DashboardConsumer.as_asgi()),
]
