"""Read queries only the dashboard pages need: chart series and the codes of the event filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from monitoring.models import MonitoringEvent
from rendering.models import InstructionStatus, RenderInstruction


def _finished_between(start: datetime, end: datetime) -> QuerySet[RenderInstruction]:
    """COMPLETED or FAILED instructions that finished in [start, end).

    The queue stamps `completed_at` on failure too, so one index range serves both.
    """
    return RenderInstruction.objects.filter(
        status__in=[InstructionStatus.COMPLETED, InstructionStatus.FAILED],
        completed_at__gte=start,
        completed_at__lt=end,
    )


@dataclass(frozen=True)
class SeriesSpec:
    hours: int = 6
    bucket_minutes: int = 10


def metric_series(*, now: datetime | None = None, spec: SeriesSpec | None = None) -> dict:
    """Per-bucket completions, failures, error rate and mean latency over the last hours.

    Buckets are aligned to the bucket size so two calls a second apart agree. Times are
    UNIX seconds (what the chart library takes).
    """
    now = now or timezone.now()
    spec = spec or SeriesSpec()
    size = timedelta(minutes=spec.bucket_minutes)
    end_ts = int(now.timestamp()) // int(size.total_seconds()) * int(size.total_seconds())
    end = datetime.fromtimestamp(end_ts, tz=now.tzinfo) + size
    count = spec.hours * 60 // spec.bucket_minutes
    start = end - size * count
    done = [0] * count
    failed = [0] * count
    latency_sum = [0.0] * count
    rows = _finished_between(start, end).values_list("status", "created_at", "completed_at")
    for status, created, completed in rows:
        index = min(count - 1, int((completed - start) / size))
        if status == InstructionStatus.COMPLETED:
            done[index] += 1
            latency_sum[index] += (completed - created).total_seconds()
        else:
            failed[index] += 1
    return {
        "t": [int((start + size * i).timestamp()) for i in range(count)],
        "throughput": done,
        "failed": failed,
        "error_rate": [
            round(f / (d + f), 4) if d + f else None for d, f in zip(done, failed, strict=True)
        ],
        "latency": [round(s / d, 3) if d else None for s, d in zip(latency_sum, done, strict=True)],
    }


def event_codes() -> list[str]:
    return list(MonitoringEvent.objects.values_list("code", flat=True).distinct().order_by("code"))
