"""WebSocket routes. The live dashboard's consumer is added by the monitoring pages."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
