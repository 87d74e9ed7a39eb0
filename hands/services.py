"""Hand ingest: store a hand once; a premium hand's render instruction is created with it.

The instruction is the render queue's business (a higher layer): it listens to
`hands.signals.premium_hand_recorded`, sent inside the hand's transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from automation_hub.errors import Conflict
from automation_hub.live import publish_on_commit
from hands.models import Hand, HandRank, Tournament
from hands.signals import premium_hand_recorded

# Fields whose values make up a hand's identity-bearing content (what a resend must repeat).
CONTENT_FIELDS = (
    "tournament",
    "source",
    "hand_rank",
    "pot_size",
    "winner",
    "players",
    "community_cards",
)


@dataclass
class HandIngestResult:
    hand: Hand
    created: bool


def hand_is_premium(*, hand_rank: str) -> bool:
    """At or above settings.PREMIUM_HAND_MIN_RANK (Royal Flush by default, per the PRD)."""
    return HandRank.strength(hand_rank) >= HandRank.strength(settings.PREMIUM_HAND_MIN_RANK)


def _content_hash(data: dict[str, Any]) -> str:
    content = {name: data.get(name) for name in CONTENT_FIELDS}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _tournament_for(code: str | None) -> Tournament | None:
    # A table reporting a tournament nobody entered yet must not lose its hand: create it.
    if not code:
        return None
    tournament, _ = Tournament.objects.get_or_create(code=code, defaults={"name": code})
    return tournament


def _conflict(existing: Hand, data: dict[str, Any]) -> Conflict:
    stored = {
        "tournament": existing.tournament.code if existing.tournament else None,
        "source": existing.source,
        "hand_rank": existing.hand_rank,
        "pot_size": existing.pot_size,
        "winner": existing.winner,
        "players": existing.players,
        "community_cards": existing.community_cards,
    }
    differing = {
        name: [f"Stored {stored[name]!r}, sent {data.get(name)!r}."]
        for name in CONTENT_FIELDS
        if json.dumps(stored[name], sort_keys=True, default=str)
        != json.dumps(data.get(name), sort_keys=True, default=str)
    }
    return Conflict(
        f"Hand {existing.table_id} #{existing.hand_number} was already recorded with "
        "different content.",
        fields=differing,
        extra={"existing_id": existing.pk},
    )


def _existing(table_id: str, hand_number: int, content_hash: str, data: dict) -> HandIngestResult:
    hand = Hand.objects.select_related("tournament").get(table_id=table_id, hand_number=hand_number)
    if hand.content_hash != content_hash:
        raise _conflict(hand, data)
    return HandIngestResult(hand=hand, created=False)


def hand_ingest(*, data: dict[str, Any], created_by: str = "") -> HandIngestResult:
    """Store a validated hand (see HandInput). Idempotent on (table_id, hand_number).

    A resend with the same content returns the stored hand (created=False); different content
    raises Conflict. A premium hand's instruction is created in the same transaction (by the
    receiver of `premium_hand_recorded`), so a hand is never stored without it. Side effects:
    `hand_created` live event and the instruction's dispatch, both after commit.
    """
    table_id, hand_number = data["table_id"], data["hand_number"]
    content_hash = _content_hash(data)
    if Hand.objects.filter(table_id=table_id, hand_number=hand_number).exists():
        return _existing(table_id, hand_number, content_hash, data)
    try:
        with transaction.atomic():
            hand = Hand.objects.create(
                tournament=_tournament_for(data.get("tournament")),
                table_id=table_id,
                hand_number=hand_number,
                source=data["source"],
                hand_rank=data["hand_rank"],
                pot_size=data["pot_size"],
                winner=data.get("winner", ""),
                players=data.get("players", []),
                community_cards=data.get("community_cards", []),
                is_premium=hand_is_premium(hand_rank=data["hand_rank"]),
                content_hash=content_hash,
            )
            if hand.is_premium:
                premium_hand_recorded.send(sender=Hand, hand=hand, created_by=created_by)
            publish_on_commit("hand_created", hand_live_data(hand))
    except IntegrityError:
        # Another request stored the same (table_id, hand_number) between our check and insert.
        if not Hand.objects.filter(table_id=table_id, hand_number=hand_number).exists():
            raise
        return _existing(table_id, hand_number, content_hash, data)
    return HandIngestResult(hand=hand, created=True)


def hand_live_data(hand: Hand) -> dict[str, Any]:
    return {
        "id": hand.pk,
        "table_id": hand.table_id,
        "hand_number": hand.hand_number,
        "hand_rank": hand.hand_rank,
        # The label the pages write (HandRank's): live rows never spell it their own way.
        "hand_rank_display": hand.get_hand_rank_display(),
        "pot_size": hand.pot_size,
        "winner": hand.winner,
        "is_premium": hand.is_premium,
        "correlation_id": str(hand.correlation_id),
        "created_at": hand.created_at.isoformat(),
    }
