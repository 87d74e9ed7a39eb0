from __future__ import annotations

import logging
from http import HTTPStatus

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_hub.api.permissions import is_person
from automation_hub.health import broker_check, database_check, processes_check

logger = logging.getLogger(__name__)


class HealthView(APIView):
    """Liveness: the process answers. No auth, no I/O."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses=inline_serializer("Health", {"status": serializers.CharField()}), tags=["health"]
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


READINESS = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "mode": serializers.ChoiceField(choices=["embedded", "production"]),
        "checks": serializers.DictField(child=serializers.CharField()),
        "processes": serializers.DictField(child=serializers.CharField()),
    },
)


class ReadinessView(APIView):
    """Readiness: the database and the broker are reachable (503 naming what is not), and which
    supervised processes run. A worker cluster that is down or restarting makes the hub
    "degraded" (200: this web server still serves pages and the API), named under `processes`.

    Anonymous callers (load balancers, probes) learn only `ok` / `down` per dependency and part;
    the reason (driver errors name hosts and users) is shown to signed-in people only, and
    always logged."""

    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses={200: READINESS, 503: READINESS},
        tags=["health"],
        description=(
            "`checks` maps each dependency, `processes` each supervised part of the hub, to "
            "`ok`, or `down` (signed-in people see the reason)."
        ),
    )
    def get(self, request: Request) -> Response:
        failures = {"database": database_check(), "broker": broker_check()}
        ready = not any(failures.values())
        processes = processes_check() if failures["database"] is None else {}
        status = "unavailable"
        if ready:
            status = "ok" if all(v == "ok" for v in processes.values()) else "degraded"
        for name, reason in failures.items():
            if reason:
                logger.warning("not ready: %s: %s", name, reason)
        detailed = is_person(request)
        return Response(
            {
                "status": status,
                "mode": settings.HUB_MODE,
                "checks": {
                    name: "ok" if not reason else (reason if detailed else "down")
                    for name, reason in failures.items()
                },
                "processes": {
                    name: state if state == "ok" or detailed else "down"
                    for name, state in processes.items()
                },
            },
            status=HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE,
        )
