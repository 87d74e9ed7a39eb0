"""Throughput, latency and error rate over a window, and the live counts of failures.

Completions come from the rollup (`monitoring.selectors.rollup`): COMPLETED is terminal, so
they are rolled-up facts. Failures are read live: a retry (automatic, by hand, in bulk) or a
cancel takes a row out of FAILED after its minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.utils import timezone

from monitoring.histogram import histogram_percentile
from monitoring.selectors.rollup import Facts, facts_bucketed, facts_total, rollup_snapshot
from monitoring.selectors.windows import Window, bucket_edges
from rendering.models import InstructionStatus, RenderInstruction

HOUR = timedelta(hours=1)


def ratio(part: int, whole: int) -> float | None:
    """part / whole to 4 places; None when there is no whole to divide by."""
    return round(part / whole, 4) if whole else None


# --------------------------------------------------------------------------------------------------
# Counts
# --------------------------------------------------------------------------------------------------


def _failed() -> QuerySet[RenderInstruction]:
    # The queue stamps completed_at on a failed attempt too, so both share the time axis.
    return RenderInstruction.objects.filter(status=InstructionStatus.FAILED)


def failed_between(start: datetime, end: datetime) -> int:
    """FAILED rows that finished in [start, end) (live)."""
    return _failed().filter(completed_at__gte=start, completed_at__lt=end).count()


def failed_bucketed(edges: list[tuple[datetime, datetime]]) -> list[int]:
    """FAILED rows that finished in each bucket [lo, hi) of contiguous `edges`: grouped by a
    CASE over the edges, so only the bucket numbers come back."""
    rows = _failed().filter(completed_at__gte=edges[0][0], completed_at__lt=edges[-1][1])
    last = len(edges) - 1
    bucket = Case(
        *(When(completed_at__lt=hi, then=Value(i)) for i, (_, hi) in enumerate(edges[:-1])),
        default=Value(last),
        output_field=IntegerField(),
    )
    counts = [0] * len(edges)
    for i, n in rows.annotate(b=bucket).values_list("b").annotate(n=Count("*")).order_by():
        counts[i] = n
    return counts


def completions_between(start: datetime, end: datetime) -> int:
    """Instructions that completed in [start, end) (rolled up + live tail)."""
    return facts_total(start, end, ["completed"]).completed


def error_rate_between(start: datetime, end: datetime) -> tuple[int, int]:
    """(failed, finished) among instructions that finished in [start, end)."""
    failed = failed_between(start, end)
    return failed, failed + completions_between(start, end)


# --------------------------------------------------------------------------------------------------
# Read models
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThroughputBucket:
    start: datetime
    value: int  # completions in the bucket


@dataclass(frozen=True)
class Throughput:
    """Completions in a window; the buckets add up to `value`."""

    window: Window
    value: int
    series: tuple[ThroughputBucket, ...]
    unit: ClassVar[str] = "instructions"

    @property
    def per_hour(self) -> float:
        return round(self.value / (self.window.length / HOUR), 2)


@dataclass(frozen=True)
class LatencyStats:
    """created → completed of the completions in a range: exact count and average, p50/p95
    from the latency histogram (within ±4.4 %, see monitoring.histogram); None when empty
    (or when the percentiles were not asked for)."""

    count: int
    avg_seconds: float | None
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class LatencyBucket:
    start: datetime
    count: int
    avg_seconds: float | None


@dataclass(frozen=True)
class Latency:
    """Latency over a window (`value` is the p50) with count and average per bucket."""

    window: Window
    stats: LatencyStats
    series: tuple[LatencyBucket, ...]
    unit: ClassVar[str] = "seconds"

    @property
    def value(self) -> float | None:
        return self.stats.p50_seconds


@dataclass(frozen=True)
class ErrorRateBucket:
    start: datetime
    failed: int
    finished: int  # completed + failed

    @property
    def value(self) -> float | None:
        return ratio(self.failed, self.finished)


@dataclass(frozen=True)
class ErrorRate:
    """Failed share of the instructions that finished in a window, and per bucket."""

    window: Window
    failed: int
    finished: int
    series: tuple[ErrorRateBucket, ...]
    unit: ClassVar[str] = "ratio"

    @property
    def value(self) -> float | None:
        return ratio(self.failed, self.finished)


# --------------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------------


def metrics_throughput(*, window: Window, now: datetime | None = None) -> Throughput:
    """Completed instructions in the window, and a count per bucket."""
    now = now or timezone.now()
    edges = bucket_edges(window, now)
    counts = [bucket.completed for bucket in facts_bucketed(edges, ["completed"])]
    series = tuple(
        ThroughputBucket(lo, count) for (lo, _), count in zip(edges, counts, strict=True)
    )
    return Throughput(window=window, value=sum(counts), series=series)


def _percentile(facts: Facts, fraction: float) -> float | None:
    value = histogram_percentile(facts.latency_histogram, fraction)
    return None if value is None else round(value, 3)


def latency_stats(*, start: datetime, end: datetime, percentiles: bool = True) -> LatencyStats:
    """Latency of the instructions completed in [start, end); without `percentiles` the
    histogram is not read and p50/p95 are None."""
    facts = facts_total(start, end, ["completed", "latency"] if percentiles else ["completed"])
    return LatencyStats(
        count=facts.completed,
        avg_seconds=facts.latency_avg_seconds,
        p50_seconds=_percentile(facts, 0.50) if percentiles else None,
        p95_seconds=_percentile(facts, 0.95) if percentiles else None,
    )


def metrics_latency(*, window: Window, now: datetime | None = None) -> Latency:
    """p50/p95/avg latency (created → completed) over the window; count and avg per bucket,
    all read against one rollup snapshot."""
    now = now or timezone.now()
    edges = bucket_edges(window, now)
    with rollup_snapshot():
        stats = latency_stats(start=now - window.length, end=now)
        buckets = facts_bucketed(edges, ["completed"])
    series = tuple(
        LatencyBucket(lo, b.completed, b.latency_avg_seconds)
        for (lo, _), b in zip(edges, buckets, strict=True)
    )
    return Latency(window=window, stats=stats, series=series)


def metrics_error_rate(*, window: Window, now: datetime | None = None) -> ErrorRate:
    """Failed share of finished instructions (completed + failed) in the window and per bucket."""
    now = now or timezone.now()
    edges = bucket_edges(window, now)
    completed = [bucket.completed for bucket in facts_bucketed(edges, ["completed"])]
    failed = failed_bucketed(edges)
    series = tuple(
        ErrorRateBucket(lo, f, f + c)
        for (lo, _), f, c in zip(edges, failed, completed, strict=True)
    )
    return ErrorRate(
        window=window,
        failed=sum(failed),
        finished=sum(failed) + sum(completed),
        series=series,
    )
