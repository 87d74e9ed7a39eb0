"""The orchestrator's blocks and overall status (SPEC §6, `GET /api/orchestrator/status`).

Producer, queue and renderer blocks are derived from their rows at the moment of the read;
the blocks the orchestrator runs itself (monitor, reconciliation, output storage) come from
their BlockState rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.utils import timezone
from django_q.models import Schedule

from monitoring.models import BlockState, BlockStatus, SyncRun, SyncType
from monitoring.selectors.health import completed_since
from monitoring.selectors.producers import DEGRADED, latest, projects_summary, start_of_today
from monitoring.selectors.queue import queue_summary
from monitoring.selectors.rollup import rollup_snapshot
from rendering.models import CircuitBreaker, InstructionStatus, RenderInstruction

_PRODUCER_BLOCK_STATUS = {
    "active": BlockStatus.IN_PROGRESS,
    "idle": BlockStatus.IDLE,
    "stale": BlockStatus.PARTIAL,
    DEGRADED: BlockStatus.FAILED,
}
_BREAKER_BLOCK_STATUS = {"closed": BlockStatus.COMPLETED, "open": BlockStatus.FAILED}
# The overall status is the worst block's, in this order.
_HEALTH_ORDER = (
    BlockStatus.FAILED,
    BlockStatus.PARTIAL,
    BlockStatus.IN_PROGRESS,
    BlockStatus.COMPLETED,
    BlockStatus.IDLE,
)


@dataclass(frozen=True)
class Block:
    """One block. `health` is set on producer blocks only (the producer's own status),
    `circuit` on renderer blocks only (their breaker's state)."""

    name: str
    status: str
    last_activity: datetime | None
    last_error: str = ""
    items_processed: int = 0
    items_total: int = 0
    health: str | None = None
    circuit: str | None = None


@dataclass(frozen=True)
class NextRuns:
    full: datetime | None
    incremental: datetime | None


@dataclass(frozen=True)
class OrchestratorStatus:
    overall: str
    blocks: tuple[Block, ...]
    last_full_sync: SyncRun | None  # the last full reconciliation that finished
    next_run: NextRuns


def _producer_blocks(now: datetime) -> tuple[list[Block], int]:
    """A block per producer (the feature tables feed the `ingest` block), and the number of
    instructions created today (the queue block's total)."""
    projects = projects_summary(now=now)
    blocks = [
        Block(
            "ingest" if name == "feature_table" else f"producer:{name}",
            _PRODUCER_BLOCK_STATUS[producer.status],
            producer.last_activity,
            health=producer.status,
        )
        for name, producer in projects.by_name()
    ]
    return blocks, projects.sub.instructions_created


def _last_instruction_change() -> datetime | None:
    # One MAX per status, each the last entry of the (status, updated_at) index, instead of
    # reading every row's updated_at.
    return latest(
        *(
            RenderInstruction.objects.filter(status=status).aggregate(last=Max("updated_at"))[
                "last"
            ]
            for status in InstructionStatus.values
        )
    )


def _queue_block(now: datetime, created_today: int) -> Block:
    queue = queue_summary(now=now)
    delayed = queue.delayed
    busy = queue.pending + queue.processing
    return Block(
        "render_queue",
        BlockStatus.PARTIAL if delayed else (BlockStatus.IN_PROGRESS if busy else BlockStatus.IDLE),
        _last_instruction_change(),
        last_error=f"{delayed} instruction(s) pending too long" if delayed else "",
        items_processed=completed_since(start_of_today(now), now),
        items_total=created_today,
    )


def _breaker_blocks() -> list[Block]:
    return [
        Block(
            f"renderer:{b.backend}",
            _BREAKER_BLOCK_STATUS.get(b.state, BlockStatus.PARTIAL),
            b.updated_at,
            last_error=b.last_error,
            circuit=b.state,
        )
        for b in CircuitBreaker.objects.all()
    ]


def _state_blocks() -> list[Block]:
    return [
        Block(
            state.name,
            state.status,
            state.last_activity,
            last_error=state.last_error,
            items_processed=state.items_processed,
            items_total=state.items_total,
        )
        for state in BlockState.objects.all()
    ]


def orchestrator_blocks(*, now: datetime | None = None) -> tuple[Block, ...]:
    """Every block: producers, the render queue, each renderer, then the BlockState rows."""
    now = now or timezone.now()
    blocks, created_today = _producer_blocks(now)
    blocks.append(_queue_block(now, created_today))
    blocks += _breaker_blocks()
    blocks += _state_blocks()
    return tuple(blocks)


def _next_runs() -> NextRuns:
    next_runs = {
        row.args.strip("'\""): row.next_run
        for row in Schedule.objects.filter(func="monitoring.tasks.scheduled_sync")
    }
    return NextRuns(full=next_runs.get("full"), incremental=next_runs.get("incremental"))


def orchestrator_status(*, now: datetime | None = None) -> OrchestratorStatus:
    """The blocks (one rollup snapshot), the worst block's status overall, the last finished
    full sync, and when each reconciliation schedule runs next."""
    with rollup_snapshot():
        blocks = orchestrator_blocks(now=now)
    statuses = {b.status for b in blocks}
    last_full = (
        SyncRun.objects.filter(type=SyncType.FULL, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    return OrchestratorStatus(
        overall=next((s for s in _HEALTH_ORDER if s in statuses), BlockStatus.IDLE),
        blocks=blocks,
        last_full_sync=last_full,
        next_run=_next_runs(),
    )
