"""What a render worker does with a wake-up: claim, render outside any transaction, report.

Used by the django-q2 task (`rendering.tasks.render_next`); `ae` machines do the same steps over
the pull API. Safe to run any number of times at once: claims are atomic, reports conditional.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.conf import settings

from automation_hub.errors import LeaseLost
from rendering.models import RenderInstruction
from rendering.renderers import BackendUnavailable, Renderer, RenderFailed, renderer_for
from rendering.services.breaker import (
    breaker_allows,
    breaker_record_failure,
    breaker_record_success,
)
from rendering.services.dispatch import instruction_dispatch
from rendering.services.queue import (
    instruction_claim_next,
    instruction_complete,
    instruction_fail,
    instruction_heartbeat,
    instruction_release,
)

logger = logging.getLogger(__name__)


# Set in a worker process whose cluster is stopping (`manage.py runworkers` sends it SIGUSR1):
# the render under way finishes, nothing new is claimed.
_stop_requested = threading.Event()


def worker_stop_request(*_signal_args: object) -> None:
    """Signal-safe: the worker's claim loop ends after the render it is doing."""
    _stop_requested.set()


def worker_identity() -> str:
    """host:pid: unique among the live workers, and says where to look when one is stuck."""
    return f"{socket.gethostname()}:{os.getpid()}"


def queue_work(*, budget_seconds: float | None = None, worker_id: str | None = None) -> int:
    """Claim and render jobs until the queue is empty, the backend's breaker is open or the
    time budget is spent. Returns how many jobs this call rendered (whatever their outcome)."""
    backend = settings.RENDER_BACKEND
    renderer = renderer_for(backend)
    worker_id = worker_id or worker_identity()
    budget = settings.RENDER_TASK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    rendered = 0
    while not _stop_requested.is_set():
        if not breaker_allows(backend=backend):
            break  # jobs stay PENDING, retries unspent; the sweep wakes us after the reset
        instruction = instruction_claim_next(worker_id=worker_id, backend=backend)
        if instruction is None:
            break
        instruction_render(instruction=instruction, worker_id=worker_id, renderer=renderer)
        rendered += 1
        if time.monotonic() >= deadline:
            # Work may remain and wake-ups are not one per job: leave one for whoever is free.
            instruction_dispatch(instruction_id=None)
            break
    return rendered


def instruction_render(
    *, instruction: RenderInstruction, worker_id: str, renderer: Renderer
) -> None:
    """Render one claimed instruction and report the outcome under its lease."""
    lease = instruction.lease_id
    backend = renderer.name

    def progress(percent: int | None = None, external_id: str | None = None) -> None:
        instruction_heartbeat(
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=lease,
            progress=percent,
            external_id=external_id,
        )

    try:
        result = renderer.render(instruction, progress=progress)
    except LeaseLost:
        logger.warning("instruction %s: lease lost during render; result dropped", instruction.pk)
        return
    except BackendUnavailable as exc:
        breaker_record_failure(backend=backend, error=str(exc))
        instruction_release(
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=lease,
            reason=f"{backend} unavailable: {exc}",
        )
        return
    except RenderFailed as exc:
        breaker_record_success(backend=backend)  # the backend answered; the job was at fault
        _report_failure(instruction, worker_id, str(exc), retryable=exc.retryable)
        return
    except Exception as exc:  # a bug or an unexpected backend answer: fail this job, not the worker
        logger.exception("instruction %s: render crashed", instruction.pk)
        _report_failure(instruction, worker_id, f"{type(exc).__name__}: {exc}", retryable=True)
        return
    breaker_record_success(backend=backend)
    try:
        instruction_complete(
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=lease,
            output_path=result.output_path,
            file_size=result.file_size,
            frame_count=result.frame_count,
        )
    except LeaseLost:
        logger.warning("instruction %s: finished after losing its lease; refused", instruction.pk)


def _report_failure(
    instruction: RenderInstruction, worker_id: str, message: str, *, retryable: bool
) -> None:
    try:
        instruction_fail(
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=instruction.lease_id,
            error_message=message,
            retryable=retryable,
        )
    except LeaseLost:
        logger.warning("instruction %s: failure reported after losing its lease", instruction.pk)
