"""Retry policy per render backend: how long a failed job waits before it runs again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class RetryPolicy:
    strategy: str  # fixed | exponential
    base_delay: float  # seconds
    max_delay: float

    def delay(self, *, retry_count: int) -> timedelta:
        """Wait before the attempt that follows `retry_count` earlier retries."""
        if self.strategy == "exponential":
            seconds = self.base_delay * (2 ** max(retry_count, 0))
        else:
            seconds = self.base_delay
        return timedelta(seconds=min(seconds, self.max_delay))


def retry_policy_for(*, backend: str) -> RetryPolicy:
    policies = settings.RENDER_RETRY_POLICIES
    raw = policies.get(backend) or policies.get("default") or {}
    strategy = raw.get("strategy", "exponential")
    if strategy not in ("fixed", "exponential"):
        raise ValueError(f"RENDER_RETRY_POLICIES[{backend!r}]: unknown strategy {strategy!r}")
    base = float(raw.get("base_delay", 10))
    return RetryPolicy(
        strategy=strategy, base_delay=base, max_delay=float(raw.get("max_delay", max(base, 600)))
    )
