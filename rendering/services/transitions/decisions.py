"""Automatic decisions: recover a stuck job, retry a failed one, raise a waiting job's priority.

Each is audited like a person's action (the actor is the hub: reaper, retry sweep, monitor), so
an engineer reading an instruction's history sees who moved it and why, and can override it.
A decision that finds the row already changed (a worker reported, an operator acted, another
sweep got there first) does nothing and returns None.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from rendering.models import RenderInstruction
from rendering.services.transitions.table import (
    AUTO_RETRY,
    CLAIM_RESET,
    MONITOR,
    RAISE_PRIORITY,
    REAP,
    REAP_FINAL,
    REAPER,
    RETRY_SWEEP,
    Actor,
    transition_apply,
)

TIMEOUT_MESSAGE = "Timed out: its worker stopped answering and its retries are spent"


def instruction_reap(
    *, instruction_id: int, lease_id: object, holder: str, stale: Q, why: str
) -> str | None:
    """Take back a PROCESSING row from a holder that is gone (`stale`: the condition that says
    so, e.g. no heartbeat since a cutoff, re-checked under the row lock with the lease): back to
    PENDING with retry_count + 1 and re-dispatched ("recovered"), or STALE (timed out, retries
    spent) at max_retries ("timed_out"). None when it was completed, re-claimed or heart-beaten
    since it was found, or another reaper holds it right now. The job's identity on the render
    backend (`external_id`) is kept, so its next claim can pick the job up again.
    """
    still_stale = Q(lease_id=lease_id, claimed_by=holder) & stale
    details = {"worker_id": holder}
    recovered = transition_apply(
        REAP,
        instruction_id=instruction_id,
        match=still_stale & Q(retry_count__lt=F("max_retries")),
        changes={
            "status": REAP.target,
            "retry_count": F("retry_count") + 1,
            "next_attempt_at": None,
            "error_message": f"Taken back: {why}"[:4000],
            **CLAIM_RESET,
        },
        actor=REAPER,
        reason=why,
        message=f"Instruction {instruction_id} was stuck ({why}): back to PENDING.",
        details=details,
        dispatch=True,
        skip_locked=True,
    )
    if recovered is not None:
        return "recovered"
    timed_out = transition_apply(
        REAP_FINAL,
        instruction_id=instruction_id,
        match=still_stale,
        changes={
            "status": REAP_FINAL.target,
            "error_message": f"{TIMEOUT_MESSAGE} ({why})"[:4000],
            "next_attempt_at": None,
            "completed_at": timezone.now(),
            **CLAIM_RESET,
        },
        actor=REAPER,
        reason=why,
        message=f"Instruction {instruction_id} was stuck ({why}): {TIMEOUT_MESSAGE}.",
        details=details,
        skip_locked=True,
    )
    return "timed_out" if timed_out is not None else None


def instruction_auto_retry(
    *, instruction_id: int, due_by: datetime, actor: Actor = RETRY_SWEEP, why: str = ""
) -> RenderInstruction | None:
    """FAILED → PENDING, spending one retry, if retries are left and the backoff ended by
    `due_by`; the workers are woken after commit. The one automatic retry path: the sweep runs
    it when a backoff ends, the monitor as a backstop for rows the sweep left behind."""
    row = RenderInstruction.objects.filter(pk=instruction_id).only("error_message").first()
    if row is None:
        return None
    due = Q(retry_count__lt=F("max_retries")) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by)
    )
    reason = why or f"backoff over after: {row.error_message}"[:2000]
    return transition_apply(
        AUTO_RETRY,
        instruction_id=instruction_id,
        match=due,
        changes={
            "status": AUTO_RETRY.target,
            "retry_count": F("retry_count") + 1,
            "next_attempt_at": None,
            "completed_at": None,
            **CLAIM_RESET,
        },
        actor=actor,
        reason=reason,
        message=lambda after: (
            f"Instruction {after.pk} re-queued automatically (retry {after.retry_count} of "
            f"{after.max_retries}): {reason}"
        ),
        dispatch=True,
        skip_locked=True,
    )


def instruction_raise_priority(
    *, instruction_id: int, reason: str, details: dict | None = None
) -> RenderInstruction | None:
    """A PENDING job that waited too long moves up one priority step (not past 1)."""
    return transition_apply(
        RAISE_PRIORITY,
        instruction_id=instruction_id,
        match=Q(priority__gt=1),
        changes={"priority": F("priority") - 1},
        actor=MONITOR,
        reason=reason,
        message=lambda after: (
            f"Raised instruction {after.pk} to priority {after.priority}: {reason}"
        ),
        details=details,
        skip_locked=True,
    )
