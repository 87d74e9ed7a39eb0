from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from hands.cards import MAX_COMMUNITY_CARDS, is_card
from hands.models import Hand, HandRank, HandSource, Tournament

TABLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
CARD_HELP = "A card is a rank of 23456789TJQKA and a suit of shdc, e.g. 'As' or 'Td'."


class CardField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not is_card(value):
            raise serializers.ValidationError(f"{value!r} is not a card. {CARD_HELP}")
        return value


class PlayerInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    seat = serializers.IntegerField(min_value=1, max_value=10)
    stack = serializers.IntegerField(min_value=0, required=False, default=0)
    hole_cards = serializers.ListField(
        child=CardField(), max_length=4, required=False, default=list
    )


class HandInput(serializers.Serializer):
    """The RFID payload. Cross-field rules: seats unique, no card twice in one hand."""

    table_id = serializers.CharField(max_length=32)
    hand_number = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    tournament = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)
    source = serializers.ChoiceField(choices=HandSource.values, default=HandSource.RFID)
    hand_rank = serializers.ChoiceField(choices=HandRank.values)
    pot_size = serializers.IntegerField(min_value=0, max_value=9_000_000_000_000_000)
    winner = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    players = PlayerInput(many=True, required=False, default=list, max_length=10)
    community_cards = serializers.ListField(
        child=CardField(), max_length=MAX_COMMUNITY_CARDS, required=False, default=list
    )

    def validate_table_id(self, value: str) -> str:
        if not TABLE_ID_RE.match(value):
            raise serializers.ValidationError(
                "Use letters, digits, '-', '_' or '.', starting with a letter or digit."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        seats = [p["seat"] for p in attrs["players"]]
        if len(seats) != len(set(seats)):
            raise serializers.ValidationError({"players": ["Two players sit in the same seat."]})
        seen: set[str] = set()
        duplicates: list[str] = []
        hole = [card for p in attrs["players"] for card in p["hole_cards"]]
        for card in [*hole, *attrs["community_cards"]]:
            if card in seen:
                duplicates.append(card)
            seen.add(card)
        if duplicates:
            field = (
                "community_cards" if set(duplicates) & set(attrs["community_cards"]) else "players"
            )
            raise serializers.ValidationError(
                {field: [f"Card(s) dealt twice in one hand: {', '.join(sorted(set(duplicates)))}."]}
            )
        return attrs


class TournamentOutput(serializers.ModelSerializer):
    class Meta:
        model = Tournament
        fields = ["id", "code", "name", "starts_at", "status", "created_at"]


class HandOutput(serializers.ModelSerializer):
    tournament = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    hand_rank_label = serializers.CharField(source="get_hand_rank_display", read_only=True)
    instruction_ids = serializers.SerializerMethodField()

    class Meta:
        model = Hand
        fields = [
            "id",
            "table_id",
            "hand_number",
            "tournament",
            "source",
            "hand_rank",
            "hand_rank_label",
            "pot_size",
            "winner",
            "players",
            "community_cards",
            "is_premium",
            "correlation_id",
            "created_at",
            "instruction_ids",
        ]

    def get_instruction_ids(self, hand: Hand) -> list[int]:
        return sorted(i.pk for i in hand.instructions.all())
