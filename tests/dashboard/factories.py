"""Rows for the dashboard tests, created the way the hub creates them (services, then ORM for
what the render queue would do)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils import timezone
from PIL import Image

from hands.services import hand_ingest
from rendering.models import InstructionStatus, OutputStatus, RenderInstruction, RenderOutput
from rendering.services.instructions import instruction_create

ROYAL_FLUSH = {
    "table_id": "FT-1",
    "source": "rfid",
    "hand_rank": "royal_flush",
    "pot_size": 125000,
    "winner": "Daniel N.",
    "players": [{"name": "Daniel N.", "seat": 1, "stack": 900000, "hole_cards": ["As", "Ks"]}],
    "community_cards": ["Qs", "Js", "Ts", "2d", "3c"],
}


def premium_hand(number: int = 1, **overrides):
    return hand_ingest(data={**ROYAL_FLUSH, "hand_number": number, **overrides}).hand


def instruction(**overrides) -> RenderInstruction:
    created, _ = instruction_create(
        template_name=overrides.pop("template_name", "lower_third"), **overrides
    )
    return created


def png_output(instruction: RenderInstruction, *, name: str | None = None) -> RenderOutput:
    """A real PNG under OUTPUT_ROOT and its COMPLETED output row."""
    root = Path(settings.OUTPUT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    path = root / (name or f"{instruction.pk:07d}.png")
    Image.new("RGB", (64, 36), (200, 30, 30)).save(path, format="PNG")
    now = timezone.now()
    RenderInstruction.objects.filter(pk=instruction.pk).update(
        status=InstructionStatus.COMPLETED, completed_at=now, updated_at=now
    )
    return RenderOutput.objects.create(
        instruction=instruction,
        output_path=str(path),
        file_size=path.stat().st_size,
        status=OutputStatus.COMPLETED,
        completed_at=now,
    )
