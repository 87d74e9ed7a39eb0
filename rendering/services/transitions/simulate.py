"""`manage.py simulate` fast-forwards the rows of a simulated day to their outcome."""

from __future__ import annotations

from datetime import datetime

from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.transitions.table import SIMULATE


def instruction_simulate_outcome(
    *, instruction_id: int, failed: bool, started_at: datetime, completed_at: datetime
) -> bool:
    """A fabricated PENDING row jumps to COMPLETED (or FAILED for good, retries spent) with the
    given times, as if a worker had rendered it then. Only for simulated traffic: no output file,
    no event, no live update. False when the row was no longer PENDING."""
    changes = {
        "status": InstructionStatus.FAILED if failed else InstructionStatus.COMPLETED,
        "started_at": started_at,
        "completed_at": completed_at,
        "updated_at": completed_at,
    }
    if failed:
        changes.update(retry_count=3, max_retries=3, error_message="simulated failure")
    moved = RenderInstruction.objects.filter(pk=instruction_id, status__in=SIMULATE.sources).update(
        **changes
    )
    return bool(moved)
