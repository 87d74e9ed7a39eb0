"""Rows with the timestamps a scenario needs (auto_now fields are set by UPDATE afterwards)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from hands.models import Hand
from rendering.models import RenderInstruction, RenderOutput

_numbers = itertools.count(1)


def make_hand(*, premium: bool = True, age: timedelta = timedelta(0), **fields: Any) -> Hand:
    hand = Hand.objects.create(
        table_id=fields.pop("table_id", "FT-1"),
        hand_number=fields.pop("hand_number", next(_numbers)),
        hand_rank="royal_flush" if premium else "one_pair",
        pot_size=fields.pop("pot_size", 1000),
        is_premium=premium,
        content_hash="x" * 64,
        **fields,
    )
    if age:
        Hand.objects.filter(pk=hand.pk).update(created_at=timezone.now() - age)
        hand.refresh_from_db()
    return hand


def make_instruction(
    *,
    status: str = "pending",
    age: timedelta = timedelta(0),
    took: timedelta | None = None,
    finished_at: datetime | None = None,
    created_at: datetime | None = None,
    **fields: Any,
) -> RenderInstruction:
    """An instruction created `age` ago; `took` (or `finished_at`) sets completed_at for
    completed/failed rows."""
    hand = fields.get("hand")
    if "correlation_id" not in fields:
        fields["correlation_id"] = hand.correlation_id if hand is not None else uuid.uuid4()
    row = RenderInstruction.objects.create(
        template_name=fields.pop("template_name", "lower_third"), status=status, **fields
    )
    created = created_at or timezone.now() - age
    changes: dict[str, Any] = {"created_at": created}
    if status in ("completed", "failed"):
        changes["completed_at"] = finished_at or created + (took or timedelta(seconds=10))
    RenderInstruction.objects.filter(pk=row.pk).update(**changes)
    row.refresh_from_db()
    return row


def make_output(instruction: RenderInstruction, **fields: Any) -> RenderOutput:
    return RenderOutput.objects.create(
        instruction=instruction,
        output_path=fields.pop("output_path", f"out/{instruction.pk}.png"),
        file_size=fields.pop("file_size", 100),
        completed_at=timezone.now(),
        **fields,
    )


class LiveEvents:
    """Captures `automation_hub.live.publish` calls (what the dashboards would receive)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        self.sent.append((event_type, data))

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [data for kind, data in self.sent if kind == event_type]
