"""The one INSERT of the queue's rows: a new instruction starts PENDING at its priority."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from rendering.models import RenderInstruction
from rendering.services import dispatch as wakeups
from rendering.services.transitions.table import CREATE, Actor, transition_record

CREATOR = Actor(name="hub", via="system", block="render_queue")


def instruction_insert(*, values: dict[str, Any]) -> RenderInstruction:
    """Store a new PENDING instruction. The workers are woken and the dashboards told once it
    commits (nothing is announced if the caller's transaction rolls back)."""
    if not 1 <= int(values.get("priority", 5)) <= 10:
        raise ValueError("priority must be 1 … 10")
    instruction = RenderInstruction.objects.create(**values, status=CREATE.target)
    transition_record(CREATE, before=None, after=instruction, actor=CREATOR)
    instruction_id = instruction.pk
    transaction.on_commit(lambda: wakeups.instruction_dispatch(instruction_id=instruction_id))
    return instruction
