"""Read queries of the rendering app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from rendering.models import BreakerState, CircuitBreaker, RenderInstruction


def instruction_list() -> QuerySet[RenderInstruction]:
    return RenderInstruction.objects.prefetch_related("outputs").order_by("-created_at", "-id")


def breaker_list() -> QuerySet[CircuitBreaker]:
    """Every backend's circuit breaker that has been used (a missing row means CLOSED)."""
    return CircuitBreaker.objects.order_by("backend")


def breaker_state(*, backend: str | None = None) -> dict[str, Any]:
    """One backend's breaker (the configured one by default) as monitoring shows it."""
    backend = backend or settings.RENDER_BACKEND
    breaker = CircuitBreaker.objects.filter(backend=backend).first()
    if breaker is None:
        return {
            "backend": backend,
            "state": BreakerState.CLOSED,
            "consecutive_failures": 0,
            "opened_at": None,
            "last_error": "",
        }
    return {
        "backend": backend,
        "state": breaker.state,
        "consecutive_failures": breaker.consecutive_failures,
        "opened_at": breaker.opened_at,
        "last_error": breaker.last_error,
    }
