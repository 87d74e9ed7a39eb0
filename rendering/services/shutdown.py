"""A render worker cluster that is told to stop: what its killed workers held goes back to PENDING.

`manage.py runworkers render` lets running renders finish for RENDER_STOP_GRACE_SECONDS after
SIGTERM, then kills the workers still rendering and releases their rows here, so a stopping hub
never leaves a job for the zombie hunter (and never spends a retry for it). A Nexrender job
already submitted for one stays on the server under the uid the row keeps: the next claim adopts
it (or completes it, once finished) instead of rendering it twice.
"""

from __future__ import annotations

from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.transitions.lease import instruction_release


def instructions_release_held_by(*, worker_ids: list[str], reason: str) -> list[int]:
    """PROCESSING rows claimed by these (dead) workers → PENDING, under their lease, their
    backend job identity kept. Returns the ids released."""
    held = RenderInstruction.objects.filter(
        status=InstructionStatus.PROCESSING, claimed_by__in=worker_ids
    ).values_list("pk", "claimed_by", "lease_id")
    return [
        pk
        for pk, worker_id, lease_id in list(held)
        if instruction_release(
            instruction_id=pk, worker_id=worker_id, lease_id=lease_id, reason=reason
        )
    ]
