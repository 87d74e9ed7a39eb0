"""A render worker cluster that is told to stop: what its killed workers held goes back to PENDING.

`manage.py runworkers render` lets running renders finish for RENDER_STOP_GRACE_SECONDS after
SIGTERM, then kills the workers still rendering and releases their rows here, so a stopping hub
never leaves a job for the zombie hunter (and never spends a retry for it).
"""

from __future__ import annotations

import logging

from django.conf import settings

from rendering.clients.nexrender import NexrenderClient, NexrenderRejected, NexrenderUnavailable
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.transitions.lease import instruction_release

logger = logging.getLogger(__name__)


def instructions_release_held_by(*, worker_ids: list[str], reason: str) -> list[int]:
    """PROCESSING rows claimed by these (dead) workers → PENDING, under their lease; a Nexrender
    job submitted for one is removed from the server so no AE machine picks it up later.
    Returns the ids released."""
    held = RenderInstruction.objects.filter(
        status=InstructionStatus.PROCESSING, claimed_by__in=worker_ids
    ).values_list("pk", "claimed_by", "lease_id", "backend", "external_id")
    released = []
    for pk, worker_id, lease_id, backend, external_id in list(held):
        if not instruction_release(
            instruction_id=pk, worker_id=worker_id, lease_id=lease_id, reason=reason
        ):
            continue
        released.append(pk)
        if backend == "nexrender" and external_id:
            _nexrender_job_remove(external_id)
    return released


def _nexrender_job_remove(uid: str) -> None:
    client = NexrenderClient(
        base_url=settings.NEXRENDER_URL, secret=settings.NEXRENDER_SECRET, timeout=2.0
    )
    try:
        client.job_delete(uid)
    except (NexrenderUnavailable, NexrenderRejected):
        logger.warning("nexrender job %s of a released instruction not removed", uid)
    finally:
        client.close()
