from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.health import broker_check, database_check, processes_check


class HealthView(APIView):
    """Liveness: the process answers. No auth, no I/O."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer("Health", {"status": serializers.CharField()}), tags=["health"]
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadinessView(APIView):
    """Readiness: the database and the broker are reachable (503 naming what is not), and which
    supervised processes run. A worker cluster that is down or restarting makes the hub
    "degraded" (200: this web server still serves pages and the API), named under `processes`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Readiness",
            {
                "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
                "mode": serializers.CharField(),
                "checks": serializers.DictField(child=serializers.CharField()),
                "processes": serializers.DictField(child=serializers.CharField()),
            },
        ),
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        failures = {"database": database_check(), "broker": broker_check()}
        ready = not any(failures.values())
        processes = processes_check() if failures["database"] is None else {}
        status = "unavailable"
        if ready:
            status = "ok" if all(v == "ok" for v in processes.values()) else "degraded"
        return Response(
            {
                "status": status,
                "mode": settings.HUB_MODE,
                "checks": {name: reason or "ok" for name, reason in failures.items()},
                "processes": processes,
            },
            status=HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE,
        )
