"""Circuit breaker per render backend, kept in the database so every worker process shares it.

CLOSED → (threshold consecutive outages) → OPEN → (reset timeout) → HALF_OPEN: one worker wins a
conditional UPDATE and runs a single trial job; success closes the breaker, failure re-opens it.
While it is OPEN, workers do not claim jobs for that backend: the jobs wait PENDING and keep
their retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from automation_hub.journal import event_record
from automation_hub.models import EventType, Severity
from rendering.models import BreakerState, CircuitBreaker

SOURCE = "render_queue"

# Per process: when this process last read a backend's breaker as CLOSED with no failures. For
# CLOSED_CACHE_SECONDS after that read, a busy worker neither re-reads it before each claim nor
# after each success (two queries a job). So another process's opening of the breaker is seen
# here at most that late: a job claimed meanwhile meets the same outage and is released unspent.
CLOSED_CACHE_SECONDS = 0.5
_seen_closed: dict[str, float] = {}


def _known_closed(backend: str) -> bool:
    seen = _seen_closed.get(backend)
    return seen is not None and time.monotonic() - seen < CLOSED_CACHE_SECONDS


def _breaker(backend: str) -> CircuitBreaker:
    try:
        breaker, _ = CircuitBreaker.objects.get_or_create(backend=backend)
    except IntegrityError:  # two processes created it at once
        breaker = CircuitBreaker.objects.get(backend=backend)
    return breaker


def breaker_allows(*, backend: str, probe: Callable[[], bool] | None = None) -> bool:
    """May a worker take a job for `backend` now? An OPEN breaker past its reset timeout turns
    HALF_OPEN for exactly one caller (the trial); a trial that never reported back is replaced
    after another reset timeout. With a `probe` (the backend's health check, e.g. Nexrender
    `GET /api/v1/health`) the trial is the probe, not a job: a job that fails for reasons of
    its own can then never keep the breaker open.
    """
    if _known_closed(backend):
        return True
    breaker = _breaker(backend)
    if breaker.state == BreakerState.CLOSED:
        if breaker.consecutive_failures == 0:
            _seen_closed[backend] = time.monotonic()
        return True
    now = timezone.now()
    due = now - timedelta(seconds=settings.RENDER_BREAKER_RESET_SECONDS)
    trial_due = Q(state=BreakerState.OPEN, opened_at__lte=due) | Q(
        state=BreakerState.HALF_OPEN, trial_started_at__lte=due
    )
    trial = bool(
        CircuitBreaker.objects.filter(trial_due, backend=backend).update(
            state=BreakerState.HALF_OPEN, trial_started_at=now, updated_at=now
        )
    )
    if not trial or probe is None:
        return trial
    if probe():
        breaker_record_success(backend=backend)
        return True
    breaker_record_failure(backend=backend, error="health check failed (half-open trial)")
    return False


def breaker_record_success(*, backend: str) -> bool:
    """The backend worked: close the breaker. Returns True when this closed an open breaker."""
    if _known_closed(backend):
        return False  # the usual case on a busy worker: no query at all
    current = (
        CircuitBreaker.objects.filter(backend=backend)
        .values_list("state", "consecutive_failures")
        .first()
    )
    if current is None or current == (BreakerState.CLOSED, 0):
        _seen_closed[backend] = time.monotonic()
        return False  # the usual case: a read, no write
    with transaction.atomic():
        closed = CircuitBreaker.objects.filter(
            ~Q(state=BreakerState.CLOSED), backend=backend
        ).update(
            state=BreakerState.CLOSED,
            consecutive_failures=0,
            opened_at=None,
            trial_started_at=None,
            updated_at=timezone.now(),
        )
        if not closed:
            CircuitBreaker.objects.filter(backend=backend, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
            return False
        event_record(
            code="circuit_closed",
            type=EventType.REMEDIATION,
            severity=Severity.INFO,
            source=SOURCE,
            message=f"Render backend {backend} answers again; its circuit breaker is closed.",
            details={"backend": backend},
            announce=True,
        )
    return True


def breaker_record_failure(*, backend: str, error: str) -> bool:
    """The backend was unreachable or broken. Returns True when this opened the breaker."""
    _seen_closed.pop(backend, None)
    _breaker(backend)
    now = timezone.now()
    with transaction.atomic():
        CircuitBreaker.objects.filter(backend=backend).update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=error[:2000],
            updated_at=now,
        )
        # A failed trial re-opens at once; a closed breaker opens at the threshold.
        opened = CircuitBreaker.objects.filter(
            Q(state=BreakerState.HALF_OPEN)
            | Q(
                state=BreakerState.CLOSED,
                consecutive_failures__gte=settings.RENDER_BREAKER_THRESHOLD,
            ),
            backend=backend,
        ).update(state=BreakerState.OPEN, opened_at=now, trial_started_at=None)
        if opened:
            event_record(
                code="circuit_opened",
                type=EventType.ALERT,
                severity=Severity.ERROR,
                source=SOURCE,
                message=(
                    f"Render backend {backend} is failing ({error}); jobs wait PENDING until it "
                    f"answers again (next trial in {settings.RENDER_BREAKER_RESET_SECONDS} s)."
                ),
                details={"backend": backend, "error": error[:500]},
            )
    return bool(opened)
