"""Latency histogram with fixed log-scale buckets, so per-minute histograms add up exactly.

Bucket k holds latencies in [2^(k/8), 2^((k+1)/8)) seconds: eight buckets per doubling, with no
lower or upper limit (only the buckets that occur are stored). A percentile is read as the
geometric middle of the bucket that holds the nearest-rank value, so it is within
RELATIVE_RESOLUTION (±4.4 %) of the exact figure; a latency of zero has a bucket of its own and
reads as exactly 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

BUCKETS_PER_DOUBLING = 8
ZERO_BUCKET = -1_000_000  # below any real bucket (1 µs is bucket -160)
RELATIVE_RESOLUTION = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1  # 0.0443

Histogram = Counter  # bucket index → count


def latency_bucket(seconds: float) -> int:
    """The bucket a latency falls in (a clock step backwards counts as zero)."""
    if seconds <= 0:
        return ZERO_BUCKET
    return math.floor(BUCKETS_PER_DOUBLING * math.log2(seconds))


def bucket_seconds(bucket: int) -> float:
    """What a bucket reads as: its geometric middle."""
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 ** ((bucket + 0.5) / BUCKETS_PER_DOUBLING)


def histogram_from_seconds(values: Iterable[float]) -> Histogram:
    return Counter(latency_bucket(v) for v in values)


def histogram_to_json(histogram: Mapping[int, int]) -> dict[str, int]:
    return {str(bucket): count for bucket, count in sorted(histogram.items()) if count}


def histogram_merge(total: Histogram, stored: Mapping[str, int] | None) -> None:
    """Add a stored (JSON) histogram into `total`."""
    for bucket, count in (stored or {}).items():
        total[int(bucket)] += count


def histogram_percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """Nearest-rank percentile (the same rank rule as an exact ORDER BY … OFFSET), read from
    the histogram; None when it is empty."""
    count = sum(histogram.values())
    if count == 0:
        return None
    rank = max(1, min(count, int(fraction * count + 0.999999)))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_seconds(bucket)
    raise AssertionError("unreachable: the ranks add up to the count")
