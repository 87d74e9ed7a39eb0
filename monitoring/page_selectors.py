"""Read queries only the dashboard pages need: chart series and the codes of the event filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from automation_hub.models import MonitoringEvent
from monitoring.rollup_selectors import facts_bucketed
from monitoring.selectors import failed_bucketed


@dataclass(frozen=True)
class SeriesSpec:
    hours: int = 6
    bucket_minutes: int = 10


def metric_series(*, now: datetime | None = None, spec: SeriesSpec | None = None) -> dict:
    """Per-bucket completions, failures, error rate and mean latency over the last hours.

    Buckets are aligned to the bucket size so two calls a second apart agree. Times are
    UNIX seconds (what the chart library takes). Completions come from the per-minute rollup
    and the live tail, failures live (a retry takes a row out of FAILED), as for the API.
    """
    now = now or timezone.now()
    spec = spec or SeriesSpec()
    size = timedelta(minutes=spec.bucket_minutes)
    end_ts = int(now.timestamp()) // int(size.total_seconds()) * int(size.total_seconds())
    end = datetime.fromtimestamp(end_ts, tz=now.tzinfo) + size
    count = spec.hours * 60 // spec.bucket_minutes
    start = end - size * count
    edges = [(start + size * i, start + size * (i + 1)) for i in range(count)]
    buckets = facts_bucketed(edges, ["completed"])
    done = [b.completed for b in buckets]
    latency_us = [b.latency_us_total for b in buckets]
    failed = failed_bucketed(edges)
    return {
        "t": [int((start + size * i).timestamp()) for i in range(count)],
        "throughput": done,
        "failed": failed,
        "error_rate": [
            round(f / (d + f), 4) if d + f else None for d, f in zip(done, failed, strict=True)
        ],
        "latency": [
            round(us / d / 1_000_000, 3) if d else None
            for us, d in zip(latency_us, done, strict=True)
        ],
    }


def event_codes() -> list[str]:
    return list(MonitoringEvent.objects.values_list("code", flat=True).distinct().order_by("code"))
