"""Data-flow health: premium hands left without an instruction, instructions waiting too long,
and the share of the day's instructions that completed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from hands.models import Hand
from monitoring.selectors.metrics import completions_between, ratio
from monitoring.selectors.rollup import completions_created_before, facts_total, rollup_extent
from rendering.models import InstructionStatus, RenderInstruction


def orphan_hands(*, now: datetime | None = None) -> QuerySet[Hand]:
    """Premium hands past the grace period that have no instruction at all."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.MONITOR_ORPHAN_GRACE_SECONDS)
    hands = Hand.objects.filter(is_premium=True, created_at__lte=now - grace)
    extent = rollup_extent()
    if extent is not None:
        # The rollup checked every premium hand before its edge: only those it found without
        # an instruction can be orphans (an instruction, once there, stays).
        hands = hands.filter(
            Q(created_at__gte=extent.rolled_until) | Q(pk__in=extent.orphan_hand_ids)
        )
    # NOT EXISTS: an anti-join on the instructions' hand index, not a hashed million-row NOT IN.
    return hands.filter(~Exists(RenderInstruction.objects.filter(hand_id=OuterRef("pk"))))


def delayed_instructions(*, now: datetime | None = None) -> QuerySet[RenderInstruction]:
    """PENDING rows older than the delay threshold (created_at, not updated_at: a retried row
    counts from its creation, as the viewer waits since then)."""
    now = now or timezone.now()
    limit = now - timedelta(minutes=settings.MONITOR_DELAYED_PENDING_MINUTES)
    return RenderInstruction.objects.filter(status=InstructionStatus.PENDING, created_at__lte=limit)


def completed_since(start: datetime, now: datetime, *, completions: int | None = None) -> int:
    """COMPLETED instructions created in [start, now): every completion since `start` but those
    of instructions created before it. COMPLETED is terminal, so both parts are rolled-up facts.
    (A completion stamped before its row was created, by a host whose clock runs behind, would
    be missed.)"""
    if completions is None:
        completions = completions_between(start, now)
    return completions - completions_created_before(start, now)


def completion_rate(*, now: datetime | None = None) -> float | None:
    """Share of the last 24 hours' instructions (cancelled ones aside) that are COMPLETED."""
    now = now or timezone.now()
    start = now - timedelta(hours=24)
    day = facts_total(start, now, ["instructions_created", "completed"])
    created = day.instructions_created
    completed = completed_since(start, now, completions=day.completed)
    # Read live: a cancel, or a retry of a cancelled row, can come at any time.
    cancelled = RenderInstruction.objects.filter(
        status=InstructionStatus.CANCELLED, created_at__gte=start, created_at__lt=now
    ).count()
    return ratio(completed, created - cancelled)
