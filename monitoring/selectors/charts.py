"""The overview page's chart series: completions, failures, error rate and mean latency per
bucket over the last hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from monitoring.selectors.metrics import failed_bucketed
from monitoring.selectors.rollup import facts_bucketed


@dataclass(frozen=True)
class SeriesSpec:
    hours: int = 6
    bucket_minutes: int = 10


@dataclass(frozen=True)
class ChartSeries:
    """Parallel columns, one entry per bucket, oldest first. `t` is each bucket's start in
    UNIX seconds (what the chart library takes); a ratio or mean of an empty bucket is None."""

    t: tuple[int, ...]
    throughput: tuple[int, ...]
    failed: tuple[int, ...]
    error_rate: tuple[float | None, ...]
    latency: tuple[float | None, ...]  # seconds, created → completed


def _edges(now: datetime, spec: SeriesSpec) -> list[tuple[datetime, datetime]]:
    """Buckets aligned to the bucket size, the last one holding `now`, so two calls a second
    apart agree."""
    size = timedelta(minutes=spec.bucket_minutes)
    end_ts = int(now.timestamp()) // int(size.total_seconds()) * int(size.total_seconds())
    end = datetime.fromtimestamp(end_ts, tz=now.tzinfo) + size
    count = spec.hours * 60 // spec.bucket_minutes
    start = end - size * count
    return [(start + size * i, start + size * (i + 1)) for i in range(count)]


def metric_series(*, now: datetime | None = None, spec: SeriesSpec | None = None) -> ChartSeries:
    """Completions from the per-minute rollup and the live tail, failures live (a retry takes
    a row out of FAILED), as for the API."""
    now = now or timezone.now()
    edges = _edges(now, spec or SeriesSpec())
    buckets = facts_bucketed(edges, ["completed"])
    done = tuple(b.completed for b in buckets)
    failed = tuple(failed_bucketed(edges))
    return ChartSeries(
        t=tuple(int(lo.timestamp()) for lo, _ in edges),
        throughput=done,
        failed=failed,
        error_rate=tuple(
            round(f / (d + f), 4) if d + f else None for d, f in zip(done, failed, strict=True)
        ),
        latency=tuple(
            round(b.latency_us_total / b.completed / 1_000_000, 3) if b.completed else None
            for b in buckets
        ),
    )
