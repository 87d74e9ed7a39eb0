"""A premium hand's graphic: its template and priority from PREMIUM_TEMPLATE_RULES, its layers
from the hand. Created when the hand is recorded (`hands.signals.premium_hand_recorded`) and by
the orphan detector for a hand that lost it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from hands.models import Hand
from rendering.models import RenderInstruction
from rendering.services.instructions import HUB_SCOPE, instruction_create


def premium_rule(*, hand_rank: str) -> dict[str, Any]:
    rules = settings.PREMIUM_TEMPLATE_RULES
    return rules.get(hand_rank) or rules["default"]


def hand_layer_data(hand: Hand) -> dict[str, Any]:
    """What a hand graphic shows: the template's layers are filled from this."""
    return {
        "tournament": hand.tournament.code if hand.tournament else "",
        "table_id": hand.table_id,
        "hand_number": hand.hand_number,
        "hand_rank": hand.hand_rank,
        "hand_rank_label": hand.get_hand_rank_display(),
        "pot_size": hand.pot_size,
        "winner": hand.winner,
        "players": hand.players,
        "community_cards": hand.community_cards,
    }


def premium_instruction_create(*, hand: Hand, created_by: str = "") -> RenderInstruction:
    """The premium hand's instruction. Idempotent: its idempotency key is derived from the hand,
    so a second call (the orphan detector racing the ingest, say) returns the first one."""
    rule = premium_rule(hand_rank=hand.hand_rank)
    instruction, _ = instruction_create(
        template_name=rule["template"],
        priority=int(rule.get("priority", 5)),
        layer_data=hand_layer_data(hand),
        output_settings=dict(rule.get("output_settings", {})),
        trigger_type="premium_hand",
        trigger_id=f"{hand.table_id}#{hand.hand_number}",
        hand=hand,
        idempotency_key=f"premium-hand:{hand.pk}",
        idempotency_scope=HUB_SCOPE,
        created_by=created_by or "hub",
    )
    return instruction


def premium_hand_recorded_receiver(*, hand: Hand, created_by: str = "", **kwargs: Any) -> None:
    """Receiver of `hands.signals.premium_hand_recorded` (connected in `rendering.apps`)."""
    premium_instruction_create(hand=hand, created_by=created_by)
