"""Recovery of the render queue: the zombie hunter, automatic retries and the database sweep.

All three run as django-q2 schedules (created by `migrate`, see `queue_schedules_ensure`) and are
safe to run twice or from two clusters at once: they find the rows, and each row changes through
its transition (`rendering.services.transitions.decisions`), conditional on what was found.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from automation_hub.schedules import schedule_every_minutes
from rendering.models import BreakerState, CircuitBreaker, InstructionStatus, RenderInstruction
from rendering.services.dispatch import instruction_dispatch, wakeups_waiting
from rendering.services.transitions.decisions import instruction_auto_retry, instruction_reap
from rendering.services.transitions.lease import claimable_instructions

logger = logging.getLogger(__name__)


def instructions_reap_stale(*, timeout_seconds: int | None = None) -> dict[str, int]:
    """PROCESSING rows whose holder stopped heart-beating: back to PENDING with retry_count + 1
    (and re-dispatched), or FAILED "Timeout and max retries exceeded" at max_retries.
    """
    timeout = timeout_seconds or settings.RENDER_ZOMBIE_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    stale = RenderInstruction.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
        status=InstructionStatus.PROCESSING,
    ).values_list("pk", "lease_id", "claimed_by")
    counts = {"recovered": 0, "failed": 0}
    for pk, lease_id, holder in list(stale[:1000]):
        outcome = instruction_reap(
            instruction_id=pk, lease_id=lease_id, holder=holder, cutoff=cutoff, timeout=timeout
        )
        if outcome:
            counts[outcome] += 1
    return counts


def instructions_retry_due() -> int:
    """Re-queue FAILED rows with retries left whose backoff has passed (the automatic retry)."""
    now = timezone.now()
    due = RenderInstruction.objects.filter(
        status=InstructionStatus.FAILED,
        retry_count__lt=F("max_retries"),
        next_attempt_at__isnull=False,
        next_attempt_at__lte=now,
    ).values_list("pk", flat=True)
    retried = 0
    for pk in list(due[:1000]):
        # None: an operator (or another sweep) got there first.
        if instruction_auto_retry(instruction_id=pk, due_by=now) is not None:
            retried += 1
    return retried


def _breaker_blocks(backend: str) -> bool:
    due = timezone.now() - timedelta(seconds=settings.RENDER_BREAKER_RESET_SECONDS)
    return CircuitBreaker.objects.filter(
        backend=backend, state=BreakerState.OPEN, opened_at__gt=due
    ).exists()


def queue_sweep() -> dict[str, int]:
    """The database sweep: retry what is due, then wake workers for claimable PENDING rows.

    This is what makes a lost or never-sent wake-up (broker down, worker killed while holding the
    message) harmless. It sends at most RENDER_SWEEP_MAX_WAKEUPS: a woken task keeps claiming
    until the queue is empty.
    """
    retried = instructions_retry_due()
    pending = claimable_instructions().count()
    wakeups = 0
    if pending and not _breaker_blocks(settings.RENDER_BACKEND):
        try:
            waiting = wakeups_waiting()
        except Exception:  # broker down: try to send anyway (and count what it takes)
            waiting = 0
        for _ in range(max(0, min(pending, settings.RENDER_SWEEP_MAX_WAKEUPS) - waiting)):
            if not instruction_dispatch(instruction_id=None):
                break
            wakeups += 1
    return {"retried": retried, "pending": pending, "wakeups": wakeups}


QUEUE_SCHEDULES = {
    "render-queue: zombie hunter": ("rendering.tasks.queue_reap", "RENDER_REAP_EVERY_MINUTES"),
    "render-queue: sweep": ("rendering.tasks.queue_sweep", "RENDER_SWEEP_EVERY_MINUTES"),
}


def queue_schedules_ensure() -> list[str]:
    """Create or update the queue's django-q2 schedules (idempotent; run after `migrate`)."""
    return [
        schedule_every_minutes(name=name, func=func, minutes=getattr(settings, setting))
        for name, (func, setting) in QUEUE_SCHEDULES.items()
    ]
