"""Shared helpers of the render-queue tests."""

from __future__ import annotations

from typing import Any

from rendering.models import RenderInstruction


def make_instruction(**fields: Any) -> RenderInstruction:
    values: dict[str, Any] = {
        "template_name": "premium_hand",
        "layer_data": {
            "tournament": "WSOP-ME",
            "table_id": "FT1",
            "hand_number": 42,
            "hand_rank": "royal_flush",
            "hand_rank_label": "Royal Flush",
            "pot_size": 1250000,
            "winner": "Alice",
            "players": [
                {"name": "Alice", "seat": 1, "hole_cards": ["As", "Ks"]},
                {"name": "Bob", "seat": 4, "hole_cards": ["Qd", "Qc"]},
            ],
            "community_cards": ["Qs", "Js", "Ts", "2d", "3c"],
        },
        "output_settings": {"format": "PNG", "resolution": "1280x720", "frame_count": 1},
    }
    values.update(fields)
    return RenderInstruction.objects.create(**values)
