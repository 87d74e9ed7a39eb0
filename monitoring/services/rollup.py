"""The per-minute rollup of the day-long metrics (MetricMinute), run every minute by django-q2.

A run rolls up every minute that ended at least MONITOR_ROLLUP_SETTLE_SECONDS ago and is not
rolled up yet (all of them since the last run, however many runs were missed; after a stop longer
than the retention it starts afresh from the retention horizon), each recomputed from the base
rows, and drops minutes past MONITOR_ROLLUP_RETENTION_HOURS. Rolling a minute again writes the
same row, and the state row only moves forward through a conditional UPDATE, so two runs at once
(two clusters) are harmless: the slower one finds it moved and writes nothing.

Rows written with past timestamps later than the settle delay (a simulation, a repair by hand,
rows deleted through the admin) are not seen by the rollup until `metrics_rollup_rebuild`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from automation_hub.schedules import schedule_every_minutes
from hands.models import Hand
from monitoring.histogram import Histogram, histogram_merge, histogram_to_json
from monitoring.models import MetricHour, MetricMinute, MetricRollupState
from monitoring.selectors.rollup import (
    HOUR,
    MINUTE,
    Facts,
    facts_from_rows_by_minute,
    hour_ceil,
    hour_floor,
    minute_floor,
)
from rendering.models import RenderInstruction

ROLLUP_SCHEDULE = "monitoring: metrics rollup"
_FACT_FIELDS = [
    "instructions_created",
    "completed",
    "latency_us_total",
    "oldest_created_at",
    "latency_histogram",
    "hands_created",
    "outputs_completed",
]


@dataclass
class RollupReport:
    minutes: int = 0
    pruned: int = 0
    rolled_until: datetime | None = None
    orphan_hands: int = 0
    skipped: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "pruned": self.pruned,
            "rolled_until": self.rolled_until.isoformat() if self.rolled_until else None,
            "orphan_hands": self.orphan_hands,
            "skipped": self.skipped,
        }


def _minute_rows(start: datetime, end: datetime) -> list[MetricMinute]:
    """One row per minute in [start, end), empty minutes included (the range has no holes)."""
    facts = facts_from_rows_by_minute(start, end)
    rows = []
    minute = start
    while minute < end:
        found = facts.get(minute, Facts())
        rows.append(
            MetricMinute(
                minute=minute,
                instructions_created=found.instructions_created,
                completed=found.completed,
                latency_us_total=found.latency_us_total,
                oldest_created_at=found.oldest_created_at,
                latency_histogram=histogram_to_json(found.latency_histogram),
                hands_created=found.hands_created,
                outputs_completed=found.outputs_completed,
            )
        )
        minute += MINUTE
    return rows


def _write(rows: list[MetricMinute]) -> None:
    MetricMinute.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["minute"],
        update_fields=_FACT_FIELDS,
    )


def _write_hours(start: datetime, end: datetime) -> int:
    """(Re)write MetricHour for the whole hours in [start, end) from their stored minutes."""
    first, last = hour_ceil(start), hour_floor(end)
    if first >= last:
        return 0
    merged: dict[datetime, tuple[int, Histogram]] = {}
    minutes = MetricMinute.objects.filter(minute__gte=first, minute__lt=last).order_by()
    for minute, completed, stored in minutes.values_list(
        "minute", "completed", "latency_histogram"
    ):
        count, histogram = merged.setdefault(hour_floor(minute), (0, Counter()))
        histogram_merge(histogram, stored)
        merged[hour_floor(minute)] = (count + completed, histogram)
    hours = []
    hour = first
    while hour < last:
        count, histogram = merged.get(hour, (0, Counter()))
        hours.append(
            MetricHour(hour=hour, completed=count, latency_histogram=histogram_to_json(histogram))
        )
        hour += HOUR
    MetricHour.objects.bulk_create(
        hours,
        update_conflicts=True,
        unique_fields=["hour"],
        update_fields=["completed", "latency_histogram"],
    )
    return len(hours)


def _orphan_hand_ids(
    *, until: datetime, checked_until: datetime | None, known: list[int]
) -> list[int]:
    """Premium hands created before `until` without any instruction now. Only the hands after
    `checked_until` and the `known` orphans need a look: every other one had an instruction at
    the last check, and instructions are never removed by the hub."""
    hands = Hand.objects.filter(is_premium=True, created_at__lt=until)
    if checked_until is not None:
        hands = hands.filter(Q(created_at__gte=checked_until) | Q(pk__in=known))
    has_instruction = Exists(RenderInstruction.objects.filter(hand_id=OuterRef("pk")))
    return list(hands.filter(~has_instruction).order_by("pk").values_list("pk", flat=True))


def _advance(
    state: MetricRollupState | None, *, covered_from: datetime, rolled_until: datetime, **more: Any
) -> bool:
    """Move the state forward from what this run read; False when another run moved it first."""
    if state is None:
        try:
            with transaction.atomic():
                MetricRollupState.objects.create(
                    pk=1, covered_from=covered_from, rolled_until=rolled_until, **more
                )
        except IntegrityError:
            return False
        return True
    moved = MetricRollupState.objects.filter(pk=1, rolled_until=state.rolled_until).update(
        covered_from=covered_from, rolled_until=rolled_until, updated_at=timezone.now(), **more
    )
    return moved == 1


def metrics_rollup_run(*, now: datetime | None = None) -> RollupReport:
    """Roll up the minutes that settled since the last run and drop those past the retention."""
    now = now or timezone.now()
    settled = minute_floor(now - timedelta(seconds=settings.MONITOR_ROLLUP_SETTLE_SECONDS))
    keep_from = minute_floor(now - timedelta(hours=settings.MONITOR_ROLLUP_RETENTION_HOURS))
    state = MetricRollupState.objects.filter(pk=1).first()
    if state is not None and state.rolled_until >= settled:
        return RollupReport(rolled_until=state.rolled_until, skipped="up to date")
    if state is None or state.rolled_until < keep_from:
        start = covered_from = keep_from  # first run, or stopped for longer than the retention
    else:
        start, covered_from = state.rolled_until, max(state.covered_from, keep_from)
    rows = _minute_rows(start, settled)
    orphans = _orphan_hand_ids(
        until=settled,
        checked_until=state.rolled_until if state else None,
        known=list(state.orphan_hand_ids) if state else [],
    )
    with transaction.atomic():
        if not _advance(
            state, covered_from=covered_from, rolled_until=settled, orphan_hand_ids=orphans
        ):
            return RollupReport(skipped="another run got there first")
        _write(rows)
        _write_hours(max(covered_from, hour_floor(start)), settled)
        pruned, _ = MetricMinute.objects.filter(minute__lt=covered_from).delete()
        MetricHour.objects.filter(hour__lt=covered_from).delete()
    return RollupReport(
        minutes=len(rows), pruned=pruned, rolled_until=settled, orphan_hands=len(orphans)
    )


def metrics_rollup_rebuild(*, since: datetime, now: datetime | None = None) -> RollupReport:
    """Recompute the rolled-up minutes from `since` and re-check every premium hand for an
    instruction, after rows were written with past timestamps or deleted; then catch up.
    Nothing to do before the first run (every read goes to the base rows then)."""
    with transaction.atomic():
        # Locked: a scheduled run waits instead of moving the edge while this recomputes.
        state = MetricRollupState.objects.select_for_update().filter(pk=1).first()
        if state is None:
            return RollupReport(skipped="nothing rolled up yet")
        start = max(minute_floor(since), state.covered_from)
        rows = _minute_rows(start, state.rolled_until) if start < state.rolled_until else []
        _write(rows)
        _write_hours(max(state.covered_from, hour_floor(start)), state.rolled_until)
        MetricRollupState.objects.filter(pk=1).update(
            orphan_hand_ids=_orphan_hand_ids(
                until=state.rolled_until, checked_until=None, known=[]
            ),
            updated_at=timezone.now(),
        )
    report = metrics_rollup_run(now=now)
    report.minutes += len(rows)
    return report


def rollup_schedule_ensure() -> str:
    """Create or correct the rollup's django-q2 schedule (idempotent; run after `migrate`)."""
    return schedule_every_minutes(
        name=ROLLUP_SCHEDULE, func="monitoring.tasks.rollup_metrics", minutes=1
    )
