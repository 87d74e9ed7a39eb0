"""The latency histogram behind the percentiles: its stated resolution holds."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from monitoring.histogram import (
    RELATIVE_RESOLUTION,
    histogram_from_seconds,
    histogram_merge,
    histogram_percentile,
    histogram_to_json,
)


def exact_percentile(values: list[float], fraction: float) -> float:
    """Nearest rank, as the exact ORDER BY … OFFSET query read it."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(fraction * len(ordered) + 0.999999) - 1))]


@pytest.mark.parametrize("seed", range(5))
def test_it_reads_every_percentile_within_the_stated_resolution(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(3, 2) for _ in range(rng.randint(1, 3000))]  # ms to days
    histogram = histogram_from_seconds(values)

    for fraction in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0):
        exact = exact_percentile(values, fraction)
        assert histogram_percentile(histogram, fraction) == pytest.approx(
            exact, rel=RELATIVE_RESOLUTION
        )


def test_it_states_a_resolution_of_four_and_a_half_percent_at_most():
    assert 0.044 < RELATIVE_RESOLUTION < 0.045


def test_it_reads_zero_as_zero_and_nothing_as_none():
    assert histogram_percentile(histogram_from_seconds([0, 0, 0, 5]), 0.5) == 0.0
    assert histogram_percentile(histogram_from_seconds([-0.2]), 0.5) == 0.0  # clock step back
    assert histogram_percentile(Counter(), 0.5) is None


def test_stored_minutes_add_up_to_the_histogram_of_the_whole():
    rng = random.Random(7)
    minutes = [[rng.uniform(0, 200) for _ in range(rng.randint(0, 50))] for _ in range(60)]
    merged: Counter = Counter()

    for values in minutes:
        histogram_merge(merged, histogram_to_json(histogram_from_seconds(values)))

    assert merged == histogram_from_seconds(v for values in minutes for v in values)
