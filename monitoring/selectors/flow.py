"""One hand's story (SPEC §2, `GET /api/data-flow`): Hand → instructions → outputs, the status
chain across them, and every event on its correlation ids, the hand or its instructions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from automation_hub.models import MonitoringEvent
from hands.models import Hand
from rendering.models import OutputStatus, RenderInstruction, RenderOutput

HAND, INSTRUCTION, OUTPUT = "hand", "instruction", "output"


@dataclass(frozen=True)
class ChainStep:
    """One stage of the chain; `instruction_id` only on output steps, `at` the stage's last
    change (a hand's arrival, an instruction's completion or update, an output's completion or
    creation)."""

    stage: str
    id: int
    status: str
    at: datetime | None
    instruction_id: int | None = None


@dataclass(frozen=True)
class HandFlow:
    """Instructions and outputs oldest first; events oldest first."""

    hand: Hand
    instructions: tuple[RenderInstruction, ...]
    outputs: tuple[RenderOutput, ...]
    status_chain: tuple[ChainStep, ...]
    events: tuple[MonitoringEvent, ...]
    complete: bool


def _chain(
    hand: Hand, instructions: tuple[RenderInstruction, ...], outputs: tuple[RenderOutput, ...]
) -> tuple[ChainStep, ...]:
    steps = [ChainStep(HAND, hand.pk, "received", hand.created_at)]
    steps += [
        ChainStep(INSTRUCTION, i.pk, i.status, i.completed_at or i.updated_at) for i in instructions
    ]
    steps += [
        ChainStep(OUTPUT, o.pk, o.status, o.completed_at or o.created_at, o.instruction_id)
        for o in outputs
    ]
    return tuple(steps)


def _flow_complete(
    hand: Hand, instructions: tuple[RenderInstruction, ...], outputs: tuple[RenderOutput, ...]
) -> bool:
    """A premium hand is complete once one of its instructions has a completed output."""
    if not hand.is_premium and not instructions:
        return True
    return any(o.status == OutputStatus.COMPLETED for o in outputs)


def data_flow(*, hand: Hand) -> HandFlow:
    """The hand's whole chain, read in three queries (instructions, outputs, events)."""
    instructions = tuple(RenderInstruction.objects.filter(hand=hand).order_by("created_at", "id"))
    outputs = tuple(
        RenderOutput.objects.filter(instruction__hand=hand).order_by("created_at", "id")
    )
    correlation_ids = {hand.correlation_id, *(i.correlation_id for i in instructions)}
    events = tuple(
        MonitoringEvent.objects.filter(
            Q(correlation_id__in=correlation_ids)
            | Q(hand=hand)
            | Q(instruction__in=[i.pk for i in instructions])
        ).order_by("created_at", "id")
    )
    return HandFlow(
        hand=hand,
        instructions=instructions,
        outputs=outputs,
        status_chain=_chain(hand, instructions, outputs),
        events=events,
        complete=_flow_complete(hand, instructions, outputs),
    )
