"""The rolling windows of the metrics API and the buckets a window splits into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from monitoring.selectors.rollup import minute_ceil


@dataclass(frozen=True)
class Window:
    """A rolling window ending now, cut into `length / bucket` buckets."""

    name: str
    length: timedelta
    bucket: timedelta

    @property
    def buckets(self) -> int:
        return int(self.length / self.bucket)

    @property
    def bucket_seconds(self) -> int:
        return int(self.bucket.total_seconds())


WINDOWS: dict[str, Window] = {
    "15m": Window("15m", timedelta(minutes=15), timedelta(minutes=1)),
    "1h": Window("1h", timedelta(hours=1), timedelta(minutes=5)),
    "24h": Window("24h", timedelta(hours=24), timedelta(hours=1)),
}


def window_get(name: str) -> Window:
    """The window called `name`; KeyError for an unknown one (the API validates first)."""
    return WINDOWS[name]


def bucket_edges(window: Window, now: datetime) -> list[tuple[datetime, datetime]]:
    """Buckets of [now - length, now) whose inner edges fall on whole minutes, so they line
    up with the rollup: the first starts exactly one window before now (up to a minute longer
    than the others), the last ends now (as much shorter)."""
    start = now - window.length
    first = minute_ceil(start)
    inner = [first + i * window.bucket for i in range(1, window.buckets)]
    return list(pairwise([start, *inner, now]))
