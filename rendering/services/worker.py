"""What a render worker does with a wake-up: claim, render outside any transaction, report.

Used by the django-q2 task (`rendering.tasks.render_next`); `ae` machines do the same steps over
the pull API. Safe to run any number of times at once: claims are atomic, reports conditional.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from automation_hub.errors import LeaseLost
from rendering.models import RenderInstruction
from rendering.renderers import (
    BackendUnavailable,
    Renderer,
    RenderFailed,
    RenderResult,
    RenderTimedOut,
    renderer_for,
)
from rendering.renderers.nexrender import nexrender_in_flight
from rendering.services.breaker import (
    breaker_allows,
    breaker_record_failure,
    breaker_record_success,
)
from rendering.services.dispatch import instruction_dispatch
from rendering.services.liveness import LeaseKeeper, lease_keeper, worker_identity
from rendering.services.transitions.lease import (
    instruction_claim_next,
    instruction_complete,
    instruction_fail,
    instruction_heartbeat,
    instruction_release,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


# Set in a worker process whose cluster is stopping (`manage.py runworkers` sends it SIGUSR1):
# the render under way finishes, nothing new is claimed.
_stop_requested = threading.Event()


def worker_stop_request(*_signal_args: object) -> None:
    """Signal-safe: the worker's claim loop ends after the render it is doing."""
    _stop_requested.set()


def queue_work(
    *,
    budget_seconds: float | None = None,
    worker_id: str | None = None,
    renderer: Renderer | None = None,
) -> int:
    """Claim and render jobs until the queue is empty, the backend's breaker is open (Nexrender:
    NEXRENDER_MAX_IN_FLIGHT jobs are on the farm) or the time budget is spent. Returns how many
    jobs this call rendered or submitted (whatever their outcome)."""
    backend = settings.RENDER_BACKEND
    renderer = renderer or renderer_for(backend)
    worker_id = worker_id or worker_identity()
    budget = settings.RENDER_TASK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    rendered = 0
    probe = getattr(renderer, "health", None)
    while not _stop_requested.is_set():
        if not breaker_allows(backend=backend, probe=probe):
            break  # jobs stay PENDING, retries unspent; the sweep wakes us after the reset
        if _farm_full(backend):
            break  # the follower wakes the workers as jobs finish
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


def _farm_full(backend: str) -> bool:
    """Nexrender: NEXRENDER_MAX_IN_FLIGHT jobs are on the server already. (Two workers may both
    see one slot free and overshoot by one: harmless.)"""
    if backend != "nexrender":
        return False
    return nexrender_in_flight() >= settings.NEXRENDER_MAX_IN_FLIGHT


def instruction_render(
    *, instruction: RenderInstruction, worker_id: str, renderer: Renderer
) -> None:
    """Render one claimed instruction and report the outcome under its lease.

    The lease is kept alive from this process's keeper thread for as long as the worker holds
    the job (render and report); the render stops at its next progress check once the lease is
    lost or the render's deadline has passed.
    """
    keeper = lease_keeper(worker_id)
    keeper.hold(instruction_id=instruction.pk, lease_id=instruction.lease_id)
    try:
        start = getattr(renderer, "start", None)
        if start is not None:  # submitted (or adopted) and handed off: the follower follows it

            def started() -> RenderResult | None:
                result = start(instruction, worker_id=worker_id)
                breaker_record_success(backend=renderer.name)
                return result

            result = _attempt(instruction, worker_id, renderer.name, started)
        else:
            result = _render(instruction, worker_id=worker_id, renderer=renderer, keeper=keeper)
        if result is not None:
            breaker_record_success(backend=renderer.name)
            _complete(instruction, worker_id, result)
    finally:
        keeper.release()


def _render(
    instruction: RenderInstruction, *, worker_id: str, renderer: Renderer, keeper: LeaseKeeper
) -> RenderResult | None:
    """The render itself; None when it did not produce a result (reported or dropped)."""
    lease, backend = instruction.lease_id, renderer.name
    deadline = time.monotonic() + settings.RENDER_DEADLINE_SECONDS

    def progress(
        percent: int | None = None, external_id: str | None = None, commit: bool = False
    ) -> None:
        # `commit`: the render is done and about to move its files into place; only the lease
        # matters then, not the deadline.
        if keeper.lost:
            raise LeaseLost(f"Worker {worker_id} lost instruction {instruction.pk}.")
        if not commit and time.monotonic() > deadline:
            raise RenderTimedOut(
                f"Render ran past its deadline of {settings.RENDER_DEADLINE_SECONDS} s"
            )
        beat = functools.partial(
            instruction_heartbeat,
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=lease,
            progress=percent,
            external_id=external_id,
        )
        if commit:  # a finished render waits out a database blip before its files move
            _through_database_blips(beat)
        else:
            beat()

    return _attempt(
        instruction, worker_id, backend, lambda: renderer.render(instruction, progress=progress)
    )


def _attempt(
    instruction: RenderInstruction,
    worker_id: str,
    backend: str,
    call: Callable[[], RenderResult | None],
) -> RenderResult | None:
    """Run a render (or a job's start) and report what went wrong under the lease."""
    lease = instruction.lease_id
    try:
        return call()
    except LeaseLost:
        logger.warning("instruction %s: lease lost during render; result dropped", instruction.pk)
    except BackendUnavailable as exc:
        breaker_record_failure(backend=backend, error=str(exc))
        instruction_release(
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=lease,
            reason=f"{backend} unavailable: {exc}",
        )
    except RenderFailed as exc:
        breaker_record_success(backend=backend)  # the backend answered; the job was at fault
        _report_failure(
            instruction,
            worker_id,
            str(exc),
            retryable=exc.retryable,
            timed_out=isinstance(exc, RenderTimedOut),
        )
    except Exception as exc:  # a bug or an unexpected backend answer: fail this job, not the worker
        logger.exception("instruction %s: render crashed", instruction.pk)
        _report_failure(instruction, worker_id, f"{type(exc).__name__}: {exc}", retryable=True)
    return None


# A finished render is never thrown away for a database that blips: its last lease check and
# its completion are retried (a completion finding itself already recorded under this lease
# counts as done) for about a minute.
DATABASE_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)


def _through_database_blips(call: Callable[[], T]) -> T:
    for delay in DATABASE_RETRY_DELAYS:
        try:
            return call()
        except (OperationalError, InterfaceError):
            logger.warning("database unavailable; retrying in %s s", delay, exc_info=True)
            connection.close()
            time.sleep(delay)
    return call()


def _complete(instruction: RenderInstruction, worker_id: str, result: RenderResult) -> None:
    try:
        _through_database_blips(
            functools.partial(
                instruction_complete,
                instruction_id=instruction.pk,
                worker_id=worker_id,
                lease_id=instruction.lease_id,
                output_path=result.output_path,
                file_size=result.file_size,
                frame_count=result.frame_count,
            )
        )
    except LeaseLost:
        logger.warning("instruction %s: finished after losing its lease", instruction.pk)


def _report_failure(
    instruction: RenderInstruction,
    worker_id: str,
    message: str,
    *,
    retryable: bool,
    timed_out: bool = False,
) -> None:
    try:
        instruction_fail(
            instruction_id=instruction.pk,
            worker_id=worker_id,
            lease_id=instruction.lease_id,
            error_message=message,
            retryable=retryable,
            timed_out=timed_out,
        )
    except LeaseLost:
        logger.warning("instruction %s: failure reported after losing its lease", instruction.pk)
