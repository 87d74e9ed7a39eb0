"""Tournaments and the hands the feature tables' RFID readers report."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class HandRank(models.TextChoices):
    """Poker hand categories, strongest first. `strength()` gives the order."""

    ROYAL_FLUSH = "royal_flush", "Royal Flush"
    STRAIGHT_FLUSH = "straight_flush", "Straight Flush"
    FOUR_OF_A_KIND = "four_of_a_kind", "Four of a Kind"
    FULL_HOUSE = "full_house", "Full House"
    FLUSH = "flush", "Flush"
    STRAIGHT = "straight", "Straight"
    THREE_OF_A_KIND = "three_of_a_kind", "Three of a Kind"
    TWO_PAIR = "two_pair", "Two Pair"
    ONE_PAIR = "one_pair", "One Pair"
    HIGH_CARD = "high_card", "High Card"

    @classmethod
    def strength(cls, rank: str) -> int:
        """10 for a royal flush down to 1 for high card."""
        return len(cls.values) - cls.values.index(rank)


class HandSource(models.TextChoices):
    RFID = "rfid", "RFID"
    CSV = "csv", "CSV"
    MANUAL = "manual", "Manual"


class Tournament(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    name = models.CharField(max_length=200)
    code = models.CharField(max_length=64, unique=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "running", "finished"]),
                name="tournament_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Hand(models.Model):
    """One played hand. `(table_id, hand_number)` identifies it: a resend is the same hand."""

    tournament = models.ForeignKey(
        Tournament, null=True, blank=True, on_delete=models.PROTECT, related_name="hands"
    )
    table_id = models.CharField(max_length=32)
    hand_number = models.PositiveIntegerField()
    source = models.CharField(max_length=8, choices=HandSource.choices, default=HandSource.RFID)
    hand_rank = models.CharField(max_length=20, choices=HandRank.choices)
    pot_size = models.BigIntegerField()
    winner = models.CharField(max_length=120, blank=True)
    players = models.JSONField(default=list)
    community_cards = models.JSONField(default=list)
    is_premium = models.BooleanField(default=False)
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    # SHA-256 of the canonical payload: tells an idempotent resend (same hash) from a conflict.
    content_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["table_id", "hand_number"], name="hand_table_number_uniq"
            ),
            models.CheckConstraint(condition=Q(pot_size__gte=0), name="hand_pot_size_gte_0"),
            models.CheckConstraint(
                condition=Q(source__in=HandSource.values), name="hand_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(hand_rank__in=HandRank.values), name="hand_rank_valid"
            ),
        ]
        indexes = [
            # Dashboard "hands today" and time-window metrics.
            models.Index(fields=["created_at"], name="hand_created_idx"),
            # Orphan detector: premium hands in a time window.
            models.Index(fields=["is_premium", "created_at"], name="hand_premium_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.table_id} #{self.hand_number} ({self.get_hand_rank_display()})"
