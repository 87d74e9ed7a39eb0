"""Counts over time ranges: the per-minute rollup for whole settled minutes, base rows for the rest.

A range [start, end) splits into the whole minutes the rollup holds (MetricMinute rows in
[covered_from, rolled_until), with MetricHour rows for the latency histograms of whole hours)
and the rest, read from the base tables through index ranges: the part of the first minute
after `start`, and the live tail from `rolled_until` (or from wherever the rollup does not
reach) to `end`. Both sides count a row in the minute of its own timestamp, so their sum is what
a count over [start, end) from scratch gives.

Only facts that cannot change once their row has committed are rolled up: an instruction's
creation, a completion (COMPLETED is terminal and keeps its `completed_at`) with its created →
completed latency, a hand, a completed output. FAILED, CANCELLED and waiting rows change after
their minute (retry, bulk retry, cancel), so the selectors read those live.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncMinute

from hands.models import Hand
from monitoring.histogram import Histogram, histogram_merge, latency_bucket
from monitoring.models import MetricHour, MetricMinute, MetricRollupState
from rendering.models import InstructionStatus, OutputStatus, RenderInstruction, RenderOutput

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)

# Fact name → the MetricMinute columns that hold it ("latency": the histogram of completions).
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "instructions_created": ("instructions_created",),
    "completed": ("completed", "latency_us_total", "oldest_created_at"),
    "latency": ("latency_histogram",),
    "hands_created": ("hands_created",),
    "outputs_completed": ("outputs_completed",),
}
ALL_FACTS = tuple(FACT_COLUMNS)
_COUNTED = {"instructions_created", "hands_created", "outputs_completed"}


def minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def minute_ceil(moment: datetime) -> datetime:
    floor = minute_floor(moment)
    return floor if floor == moment else floor + MINUTE


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass
class Facts:
    """What happened in a range (or one bucket of it). Mutable: a read adds its parts up into
    one (`add`); once returned, callers only read it."""

    instructions_created: int = 0
    completed: int = 0
    latency_us_total: int = 0
    latency_histogram: Histogram = field(default_factory=Counter)
    hands_created: int = 0
    outputs_completed: int = 0
    oldest_created_at: datetime | None = None  # of the completions

    def add(self, other: Facts) -> None:
        self.instructions_created += other.instructions_created
        self.completed += other.completed
        self.latency_us_total += other.latency_us_total
        self.latency_histogram.update(other.latency_histogram)
        self.hands_created += other.hands_created
        self.outputs_completed += other.outputs_completed
        self.oldest_created_at = _earliest(self.oldest_created_at, other.oldest_created_at)

    @property
    def latency_avg_seconds(self) -> float | None:
        if not self.completed:
            return None
        return round(self.latency_us_total / self.completed / 1_000_000, 3)


# --------------------------------------------------------------------------------------------------
# How far the rollup reaches
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupExtent:
    """Minutes [covered_from, rolled_until) are rolled up; `orphan_hand_ids` see the model."""

    covered_from: datetime
    rolled_until: datetime
    orphan_hand_ids: tuple[int, ...] = ()


_UNREAD = RollupExtent(datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))
_snapshot: ContextVar[RollupExtent | None] = ContextVar("rollup_snapshot", default=_UNREAD)


def _read_extent() -> RollupExtent | None:
    row = (
        MetricRollupState.objects.filter(pk=1)
        .values_list("covered_from", "rolled_until", "orphan_hand_ids")
        .first()
    )
    if row is None:
        return None
    return RollupExtent(row[0], row[1], tuple(row[2] or ()))


def rollup_extent() -> RollupExtent | None:
    """How far the rollup reaches (None before its first run): the snapshot of the response
    being built, if any, else read now."""
    extent = _snapshot.get()
    return _read_extent() if extent is _UNREAD else extent


@contextmanager
def rollup_snapshot() -> Iterator[None]:
    """Read the rollup's extent once for a whole response: one query, one edge for every part."""
    token = _snapshot.set(_read_extent())
    try:
        yield
    finally:
        _snapshot.reset(token)


def _split(
    start: datetime, end: datetime, extent: RollupExtent | None
) -> tuple[tuple[datetime, datetime] | None, list[tuple[datetime, datetime]]]:
    """The whole rolled-up minutes inside [start, end), and the ranges left for the base rows."""
    if start >= end:
        return None, []
    if extent is None:
        return None, [(start, end)]
    lo = max(minute_ceil(start), extent.covered_from)
    hi = min(minute_floor(end), extent.rolled_until)
    if lo >= hi:
        return None, [(start, end)]
    rest = []
    if start < lo:
        rest.append((start, lo))
    if hi < end:
        rest.append((hi, end))
    return (lo, hi), rest


# --------------------------------------------------------------------------------------------------
# The base rows
# --------------------------------------------------------------------------------------------------

_DURATION = ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField())


def _in_ranges(field_name: str, ranges: Iterable[tuple[datetime, datetime]]) -> Q:
    match = Q()
    for lo, hi in ranges:
        match |= Q(**{f"{field_name}__gte": lo, f"{field_name}__lt": hi})
    return match


def _counted_rows(fact: str) -> tuple[QuerySet, str]:
    """The rows a count fact counts, and the timestamp that places them in a minute."""
    if fact == "instructions_created":
        return RenderInstruction.objects.all(), "created_at"
    if fact == "hands_created":
        return Hand.objects.all(), "created_at"
    if fact == "outputs_completed":
        return RenderOutput.objects.filter(status=OutputStatus.COMPLETED), "created_at"
    raise ValueError(fact)


def _completions(ranges: list[tuple[datetime, datetime]]) -> QuerySet[RenderInstruction]:
    return RenderInstruction.objects.filter(
        _in_ranges("completed_at", ranges), status=InstructionStatus.COMPLETED
    )


class _Tally:
    """Facts keyed by minute, or all under the key None when not counted per minute."""

    def __init__(self, *, by_minute: bool) -> None:
        self.by_minute = by_minute
        self.out: dict[datetime | None, Facts] = {}

    def at(self, minute: datetime | None) -> Facts:
        return self.out.setdefault(minute if self.by_minute else None, Facts())


def _tally_counted(tally: _Tally, fact: str, ranges: list[tuple[datetime, datetime]]) -> None:
    rows, stamp = _counted_rows(fact)
    rows = rows.filter(_in_ranges(stamp, ranges))
    if not tally.by_minute:
        setattr(tally.at(None), fact, rows.count())
        return
    grouped = rows.annotate(m=TruncMinute(stamp, tzinfo=UTC)).values_list("m")
    for minute, n in grouped.annotate(n=Count("*")).order_by():
        setattr(tally.at(minute), fact, n)


def _tally_latencies(
    tally: _Tally, ranges: list[tuple[datetime, datetime]], *, completed_too: bool
) -> None:
    """The histogram needs every latency: the rows themselves (a few minutes' worth on a
    read; only the rollup asks for them per minute, and streams them)."""
    completions = _completions(ranges).annotate(duration=_DURATION)
    if tally.by_minute:
        rows = completions.values_list("completed_at", "duration").iterator(chunk_size=10_000)
    else:  # no timestamps: turning them into datetimes costs more than the query
        rows = ((None, d) for d in completions.values_list("duration", flat=True))
    for completed, duration in rows:
        micros = duration // MICROSECOND
        bucket = tally.at(minute_floor(completed) if completed else None)
        bucket.latency_histogram[latency_bucket(micros / 1_000_000)] += 1
        if completed_too:
            bucket.completed += 1
            bucket.latency_us_total += micros
            if completed:
                bucket.oldest_created_at = _earliest(bucket.oldest_created_at, completed - duration)


def _tally_completions(tally: _Tally, ranges: list[tuple[datetime, datetime]]) -> None:
    """Count, latency sum and earliest created_at of the completions, aggregated in SQL."""
    summary = _completions(ranges)
    aggregates = {"n": Count("*"), "total": Sum(_DURATION), "oldest": Min("created_at")}
    if tally.by_minute:
        grouped = summary.annotate(m=TruncMinute("completed_at", tzinfo=UTC)).values_list("m")
        per_minute = list(grouped.annotate(**aggregates).order_by())
    else:
        row = summary.aggregate(**aggregates)
        per_minute = [(None, row["n"], row["total"], row["oldest"])]
    for minute, n, total, oldest in per_minute:
        if n:
            tally.at(minute).completed += n
            tally.at(minute).latency_us_total += (total or timedelta(0)) // MICROSECOND
            tally.at(minute).oldest_created_at = oldest


def _base_facts(
    ranges: list[tuple[datetime, datetime]], facts: Iterable[str], *, by_minute: bool
) -> dict[datetime | None, Facts]:
    """Facts of the base rows in `ranges`, per minute (or all under the key None)."""
    tally = _Tally(by_minute=by_minute)
    facts = set(facts)
    if not ranges:
        return tally.out
    for fact in sorted(facts & _COUNTED):
        _tally_counted(tally, fact, ranges)
    if "latency" in facts:
        _tally_latencies(tally, ranges, completed_too="completed" in facts)
    elif "completed" in facts:
        _tally_completions(tally, ranges)
    return tally.out


def facts_from_rows_by_minute(
    start: datetime, end: datetime, facts: Iterable[str] = ALL_FACTS
) -> dict[datetime, Facts]:
    """Facts per minute straight from the base rows (what the rollup stores, and the check)."""
    return _base_facts([(start, end)], facts, by_minute=True)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# The rollup rows
# --------------------------------------------------------------------------------------------------


def _count_columns(facts: Iterable[str]) -> list[str]:
    """The columns that add up (the histogram and the earliest created_at do not)."""
    kept = ("latency_histogram", "oldest_created_at")
    return [c for fact in facts for c in FACT_COLUMNS[fact] if c not in kept]


def _in_span(span: tuple[datetime, datetime]) -> QuerySet[MetricMinute]:
    return MetricMinute.objects.filter(minute__gte=span[0], minute__lt=span[1])


def _rolled_histogram(span: tuple[datetime, datetime]) -> Histogram:
    """Whole hours from MetricHour, the minutes around them from MetricMinute."""
    lo, hi = span
    first_hour, last_hour = hour_ceil(lo), hour_floor(hi)
    histogram: Histogram = Counter()
    minute_parts = [(lo, hi)]
    if first_hour < last_hour:
        hours = MetricHour.objects.filter(hour__gte=first_hour, hour__lt=last_hour)
        for stored in hours.values_list("latency_histogram", flat=True).order_by():
            histogram_merge(histogram, stored)
        minute_parts = [(lo, first_hour), (last_hour, hi)]
    for part in minute_parts:
        if part[0] < part[1]:
            for stored in _in_span(part).values_list("latency_histogram", flat=True).order_by():
                histogram_merge(histogram, stored)
    return histogram


def _rolled_total(span: tuple[datetime, datetime], facts: tuple[str, ...]) -> Facts:
    total = Facts()
    columns = _count_columns(facts)
    if columns:
        for column, value in _in_span(span).aggregate(**{c: Sum(c) for c in columns}).items():
            setattr(total, column, value or 0)
    if "latency" in facts:
        total.latency_histogram = _rolled_histogram(span)
    return total


def _rolled_bucketed(
    span: tuple[datetime, datetime], edges: list[tuple[datetime, datetime]], facts: tuple[str, ...]
) -> list[Facts]:
    """Sum the span's minute rows into the buckets. The rows are read in minute order without
    their timestamps (turning 1440 timestamps into datetimes costs more than the query): the
    rollup holds a row for every minute of its extent, so the n-th row is minute lo + n."""
    columns = _count_columns(facts)
    buckets = [Facts() for _ in edges]
    if not columns:
        return buckets
    rows = list(_in_span(span).order_by("minute").values_list(*columns))
    lo, hi = span
    if len(rows) == (hi - lo) // MINUTE:
        minutes: Iterable[datetime] = (lo + i * MINUTE for i in range(len(rows)))
    else:  # a hole (rows removed by hand): place each row by its own minute
        pairs = list(_in_span(span).order_by("minute").values_list("minute", *columns))
        minutes, rows = [p[0] for p in pairs], [p[1:] for p in pairs]
    starts = [start for start, _ in edges]
    for minute, values in zip(minutes, rows, strict=True):
        bucket = buckets[bucket_index(starts, minute)]
        for column, value in zip(columns, values, strict=True):
            setattr(bucket, column, getattr(bucket, column) + value)
    return buckets


# --------------------------------------------------------------------------------------------------
# Rollup + base rows
# --------------------------------------------------------------------------------------------------


def facts_total(start: datetime, end: datetime, facts: Iterable[str]) -> Facts:
    """The facts of [start, end): rolled-up minutes plus the base rows around them."""
    facts = tuple(facts)
    span, rest = _split(start, end, rollup_extent())
    total = _rolled_total(span, facts) if span else Facts()
    for part in _base_facts(rest, facts, by_minute=False).values():
        total.add(part)
    return total


def bucket_index(starts: list[datetime], minute: datetime) -> int:
    """The bucket (by its start) a minute falls in; the first holds what precedes it."""
    return max(0, bisect_right(starts, minute) - 1)


def facts_bucketed(edges: list[tuple[datetime, datetime]], facts: Iterable[str]) -> list[Facts]:
    """The count facts of contiguous buckets [lo, hi). Inner edges must fall on whole minutes
    (only the first bucket may start inside one), so no minute straddles two buckets."""
    facts = tuple(facts)
    if "latency" in facts:
        raise ValueError("histograms are read per range (facts_total), not per bucket")
    assert all(lo == minute_floor(lo) for lo, _ in edges[1:]), "inner edges on whole minutes"
    span, rest = _split(edges[0][0], edges[-1][1], rollup_extent())
    buckets = _rolled_bucketed(span, edges, facts) if span else [Facts() for _ in edges]
    starts = [lo for lo, _ in edges]
    for minute, part in _base_facts(rest, facts, by_minute=True).items():
        assert minute is not None
        buckets[bucket_index(starts, minute)].add(part)
    return buckets


def completions_created_before(start: datetime, end: datetime) -> int:
    """Completions in [start, end) of instructions created before `start`: what separates the
    completions since `start` (a rolled-up fact) from the COMPLETED instructions created since
    then. The rollup's earliest created_at per minute tells the few minutes where such a
    completion can be, so only those (and the minutes not rolled up) are counted from the
    rows."""
    span, ranges = _split(start, end, rollup_extent())
    if span:
        flagged = MetricMinute.objects.filter(
            minute__gte=span[0], minute__lt=span[1], oldest_created_at__lt=start
        )
        ranges += _merged([(m, m + MINUTE) for m in flagged.values_list("minute", flat=True)])
    if not ranges:
        return 0
    return _completions(ranges).filter(created_at__lt=start).count()


def _merged(
    ranges: list[tuple[datetime, datetime]], limit: int = 50
) -> list[tuple[datetime, datetime]]:
    """Adjacent ranges joined; past `limit` pieces, one range around them all (counting over a
    wider range is as exact, only slower)."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(ranges):
        if merged and merged[-1][1] >= lo:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    if len(merged) > limit:
        return [(merged[0][0], merged[-1][1])]
    return merged
