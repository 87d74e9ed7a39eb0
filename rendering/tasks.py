"""django-q2 entry points. Thin: they take ids (or nothing) and call services; running one twice
is harmless because the services claim and report conditionally."""

from __future__ import annotations

from automation_hub.layer_sender import layer_flush
from rendering.services.recovery import instructions_reap_stale
from rendering.services.recovery import queue_sweep as _queue_sweep
from rendering.services.worker import queue_work


def render_next(instruction_id: int | None = None) -> int:
    """A wake-up: `instruction_id` says which row prompted it, but the worker takes the best
    claimable row (priority, then age), so a duplicate or stale message is harmless."""
    rendered = queue_work()
    # This task's live events leave the process before it reports done (not waiting long on a
    # Redis that does not answer: the events are stored either way).
    layer_flush(timeout=1.0)
    return rendered


def queue_reap() -> dict[str, int]:
    return instructions_reap_stale()


def queue_sweep() -> dict[str, int]:
    return _queue_sweep()
