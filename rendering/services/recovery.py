"""Recovery of the render queue: the zombie hunter, automatic retries and the database sweep.

All three run as django-q2 schedules (created by `migrate`, see `queue_schedules_ensure`) and are
safe to run twice or from two clusters at once: each row changes through a conditional UPDATE.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from automation_hub.errors import IllegalTransition
from automation_hub.live import publish_on_commit
from monitoring.models import EventType, Severity
from rendering.models import BreakerState, CircuitBreaker, InstructionStatus, RenderInstruction
from rendering.services.dispatch import instruction_dispatch, wakeups_waiting
from rendering.services.events import queue_event_record
from rendering.services.instructions import instruction_live_data
from rendering.services.queue import claimable_instructions, instruction_requeue

logger = logging.getLogger(__name__)

TIMEOUT_MESSAGE = "Timeout and max retries exceeded"


def instructions_reap_stale(*, timeout_seconds: int | None = None) -> dict[str, int]:
    """PROCESSING rows whose holder stopped heart-beating: back to PENDING with retry_count + 1
    (and re-dispatched), or FAILED "Timeout and max retries exceeded" at max_retries.
    """
    timeout = timeout_seconds or settings.RENDER_ZOMBIE_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    stale = RenderInstruction.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
        status=InstructionStatus.PROCESSING,
    ).values_list("pk", "lease_id")
    counts = {"recovered": 0, "failed": 0}
    for pk, lease_id in list(stale[:1000]):
        outcome = _reap_one(pk=pk, lease_id=lease_id, cutoff=cutoff, timeout=timeout)
        if outcome:
            counts[outcome] += 1
    return counts


def _reap_one(*, pk: int, lease_id: Any, cutoff: Any, timeout: int) -> str | None:
    # The lease and the heartbeat are in the condition: a row that was completed, re-claimed or
    # heart-beaten since the query is left alone.
    still_stale = Q(pk=pk, status=InstructionStatus.PROCESSING, lease_id=lease_id) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    )
    now = timezone.now()
    reset = {"claimed_by": "", "lease_id": None, "heartbeat_at": None, "updated_at": now}
    with transaction.atomic():
        row = RenderInstruction.objects.filter(still_stale).first()
        if row is None:
            return None
        holder = row.claimed_by
        if RenderInstruction.objects.filter(still_stale, retry_count__lt=F("max_retries")).update(
            status=InstructionStatus.PENDING,
            retry_count=F("retry_count") + 1,
            next_attempt_at=None,
            render_progress=0,
            error_message=f"Worker {holder} stopped heart-beating for over {timeout} s",
            **reset,
        ):
            outcome, code, severity = "recovered", "stuck_job_recovered", Severity.WARNING
            transaction.on_commit(lambda: instruction_dispatch(instruction_id=pk))
        elif RenderInstruction.objects.filter(still_stale).update(
            status=InstructionStatus.FAILED,
            error_message=TIMEOUT_MESSAGE,
            next_attempt_at=None,
            completed_at=now,
            **reset,
        ):
            outcome, code, severity = "failed", "job_failed_permanently", Severity.ERROR
        else:
            return None
        row.refresh_from_db()
        queue_event_record(
            code=code,
            type=EventType.REMEDIATION if outcome == "recovered" else EventType.ALERT,
            severity=severity,
            message=(
                f"Instruction {pk} was stuck on worker {holder or '?'} (no heartbeat for over "
                f"{timeout} s): "
                + ("back to PENDING." if outcome == "recovered" else f"{TIMEOUT_MESSAGE}.")
            ),
            instruction=row,
            details={"worker_id": holder, "retry_count": row.retry_count, "timeout": timeout},
            alert=outcome == "failed",
        )
        publish_on_commit("instruction_updated", instruction_live_data(row))
    return outcome


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
        try:
            row = instruction_requeue(instruction_id=pk, within_max_retries=True, due_by=now)
        except IllegalTransition:
            continue  # an operator (or another sweep) got there first
        retried += 1
        queue_event_record(
            code="job_auto_retried",
            type=EventType.REMEDIATION,
            severity=Severity.INFO,
            message=f"Instruction {pk} re-queued automatically (retry {row.retry_count} of "
            f"{row.max_retries}) after: {row.error_message}",
            instruction=row,
            details={"retry_count": row.retry_count, "max_retries": row.max_retries},
        )
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
    from automation_hub.schedules import schedule_every_minutes

    return [
        schedule_every_minutes(name=name, func=func, minutes=getattr(settings, setting))
        for name, (func, setting) in QUEUE_SCHEDULES.items()
    ]
