"""Recovery of the render queue: the zombie hunter, automatic retries and the database sweep.

All three run as django-q2 schedules (created by `migrate`, see `queue_schedules_ensure`) and are
safe to run twice or from two clusters at once: they find the rows, and each row changes through
its transition (`rendering.services.transitions.decisions`), conditional on what was found.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from automation_hub.schedules import schedule_every_minutes
from rendering.models import (
    PULL_BACKEND,
    BreakerState,
    CircuitBreaker,
    InstructionStatus,
    RenderInstruction,
)
from rendering.services.dispatch import instruction_dispatch, wakeups_waiting
from rendering.services.liveness import holder_gone_from_this_host
from rendering.services.transitions.decisions import instruction_auto_retry, instruction_reap
from rendering.services.transitions.lease import claimable_instructions

logger = logging.getLogger(__name__)


def instructions_reap_stale(
    *, timeout_seconds: int | None = None, by_silence: bool = True
) -> dict[str, int]:
    """Take back PROCESSING rows whose holder is gone: at once when it was a process of this
    host that no longer runs, otherwise (unless not `by_silence`) once it was not heard from for
    the lease timeout. Each goes back to PENDING with retry_count + 1 (and is re-dispatched), or
    ends STALE (timed out) once its retries are spent."""
    timeout = timeout_seconds or settings.RENDER_ZOMBIE_TIMEOUT_SECONDS
    counts = {"recovered": 0, "timed_out": 0}
    processing = RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING)
    # Claims made over the pull API name an ae machine, never a process of this host.
    local = processing.filter(claimed_by__startswith=f"{socket.gethostname()}:").exclude(
        backend=PULL_BACKEND
    )
    for pk, lease_id, holder, started_at in list(
        local.values_list("pk", "lease_id", "claimed_by", "started_at")[:1000]
    ):
        if holder_gone_from_this_host(holder, claimed_at=started_at):
            _count(counts, instruction_reap(
                instruction_id=pk, lease_id=lease_id, holder=holder, stale=Q(),
                why=f"worker process {holder} is gone",
            ))  # fmt: skip
    if not by_silence:
        return counts
    cutoff = timezone.now() - timedelta(seconds=timeout)
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    for pk, lease_id, holder in list(
        processing.filter(silent).values_list("pk", "lease_id", "claimed_by")[:1000]
    ):
        _count(counts, instruction_reap(
            instruction_id=pk, lease_id=lease_id, holder=holder,
            stale=Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True),
            why=f"no heartbeat from worker {holder or '?'} for over {timeout} s",
        ))  # fmt: skip
    return counts


def _count(counts: dict[str, int], outcome: str | None) -> None:
    if outcome:
        counts[outcome] += 1


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


def queue_sweep(*, retry: bool = True) -> dict[str, int]:
    """The database sweep: retry what is due (unless the caller does), then wake workers for
    claimable PENDING rows.

    This is what makes a lost or never-sent wake-up (broker down, worker killed while holding the
    message) harmless. It sends at most RENDER_SWEEP_MAX_WAKEUPS: a woken task keeps claiming
    until the queue is empty.
    """
    retried = instructions_retry_due() if retry else 0
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


def output_temp_sweep(*, older_than_seconds: int | None = None) -> int:
    """Delete the temporary files and folders renders left under OUTPUT_ROOT (a worker killed
    mid-render): names that start with "." and carry ".tmp", untouched for longer than
    RENDER_TEMP_MAX_AGE_SECONDS (a live render touches its own far more often). Returns how many
    went."""
    max_age = older_than_seconds or settings.RENDER_TEMP_MAX_AGE_SECONDS
    root = Path(settings.OUTPUT_ROOT)
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age
    removed = 0
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if not (name.startswith(".") and ".tmp" in name):
                continue
            try:
                if path.lstat().st_mtime >= cutoff:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                    dirs.remove(name)
                else:
                    path.unlink()
            except OSError:
                logger.warning("temporary render file %s not removed", path, exc_info=True)
                continue
            removed += 1
    return removed


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
