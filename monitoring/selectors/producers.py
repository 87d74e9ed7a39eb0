"""The three producers (SPEC §5 `projects`): each one's status derived from what it last did.

Last activity is the latest of the producer's API key use and its own rows (hands for
`feature_table`, non-ingest instructions for `sub`, heartbeats and outputs for `ae`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from automation_hub.models import ApiKey, ProducerRole
from hands.models import Hand
from monitoring.selectors.rollup import facts_total
from rendering.models import (
    INGEST_TRIGGER_TYPES,
    CircuitBreaker,
    InstructionStatus,
    RenderInstruction,
    RenderOutput,
)

ACTIVE, STALE, IDLE, DEGRADED = "active", "stale", "idle", "degraded"
PRODUCER_STATUSES = (ACTIVE, STALE, IDLE, DEGRADED)


@dataclass(frozen=True)
class Producer:
    """`status`: active / stale / idle (see `producer_status`), or degraded for `ae`."""

    status: str
    last_activity: datetime | None


@dataclass(frozen=True)
class FeatureTable(Producer):
    hands_today: int


@dataclass(frozen=True)
class Sub(Producer):
    instructions_created: int  # today


@dataclass(frozen=True)
class WorkerStatus:
    processing: int  # PROCESSING rows
    workers: int  # distinct workers that heart-beat within the stale threshold
    open_circuits: tuple[str, ...]  # render backends whose breaker is not closed


@dataclass(frozen=True)
class Ae(Producer):
    worker_status: WorkerStatus
    outputs_completed: int  # today


@dataclass(frozen=True)
class Projects:
    feature_table: FeatureTable
    sub: Sub
    ae: Ae

    def by_name(self) -> tuple[tuple[str, Producer], ...]:
        """(name, producer) in the order the API lists them."""
        return (("feature_table", self.feature_table), ("sub", self.sub), ("ae", self.ae))


def start_of_today(now: datetime) -> datetime:
    """Local midnight of `now` (the hub's TIME_ZONE): where "today" counts start."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def producer_status(last_activity: datetime | None, now: datetime) -> str:
    """`active` within the stale threshold, `stale` past it, `idle` when never seen."""
    if last_activity is None:
        return IDLE
    stale_after = timedelta(seconds=settings.MONITOR_PRODUCER_STALE_SECONDS)
    return ACTIVE if now - last_activity <= stale_after else STALE


def open_circuits() -> tuple[str, ...]:
    """Render backends whose circuit breaker is not closed."""
    return tuple(CircuitBreaker.objects.exclude(state="closed").values_list("backend", flat=True))


def _keys_last_used() -> dict[str, datetime | None]:
    """The last use of any API key, per producer role."""
    return dict(ApiKey.objects.values_list("role").annotate(last=Max("last_used_at")).order_by())


def _processing_summary(now: datetime) -> dict[str, int | datetime | None]:
    """PROCESSING rows: how many, how many workers heart-beat lately, the last heartbeat (one
    pass over the partial index on PROCESSING rows)."""
    stale_after = now - timedelta(seconds=settings.MONITOR_PRODUCER_STALE_SECONDS)
    alive = Q(heartbeat_at__gte=stale_after) & ~Q(claimed_by="")
    return RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING).aggregate(
        processing=Count("*"),
        workers=Count("claimed_by", distinct=True, filter=alive),
        last_heartbeat=Max("heartbeat_at"),
    )


def projects_summary(*, now: datetime | None = None) -> Projects:
    """The three producers at `now`; "today" counts from local midnight."""
    now = now or timezone.now()
    today = facts_total(
        start_of_today(now), now, ["hands_created", "instructions_created", "outputs_completed"]
    )
    keys_used = _keys_last_used()
    hands_last = Hand.objects.aggregate(last=Max("created_at"))["last"]
    feature_last = latest(hands_last, keys_used.get(ProducerRole.FEATURE_TABLE))
    sub_rows = RenderInstruction.objects.exclude(trigger_type__in=INGEST_TRIGGER_TYPES)
    sub_last = latest(
        sub_rows.aggregate(last=Max("created_at"))["last"], keys_used.get(ProducerRole.SUB)
    )
    processing = _processing_summary(now)
    ae_last = latest(
        processing["last_heartbeat"],  # only held rows heartbeat
        RenderOutput.objects.aggregate(last=Max("created_at"))["last"],
        keys_used.get(ProducerRole.AE),
    )
    worker = WorkerStatus(processing["processing"], processing["workers"], open_circuits())
    ae_status = DEGRADED if worker.open_circuits else producer_status(ae_last, now)
    return Projects(
        feature_table=FeatureTable(
            producer_status(feature_last, now), feature_last, today.hands_created
        ),
        sub=Sub(producer_status(sub_last, now), sub_last, today.instructions_created),
        ae=Ae(ae_status, ae_last, worker, today.outputs_completed),
    )
