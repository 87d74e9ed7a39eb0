"""Orchestrator: block status tracking and reconciliation runs (PokerVOD PRD, SPEC §6).

A reconciliation checks the data flow end to end: every premium hand has its instruction,
every COMPLETED instruction its completed output, every output its file under OUTPUT_ROOT
with the recorded size. Each problem is an event (one open per subject through the dedup key);
a full run closes the events of subjects that are fine again. Runs are requested through the
API or the schedule, execute in a django-q2 task, and are claimed with a conditional UPDATE so
a task delivered twice runs once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation_hub.errors import InvalidInput
from automation_hub.journal import event_open, events_auto_resolve
from automation_hub.models import EventType, MonitoringEvent, Severity
from hands.models import Hand
from monitoring.models import BlockState, BlockStatus, SyncRun, SyncType
from rendering.models import InstructionStatus, OutputStatus, RenderInstruction, RenderOutput

logger = logging.getLogger(__name__)

SOURCE = "orchestrator"
CHUNK = 2000
INCREMENTAL_FALLBACK = timedelta(hours=24)  # incremental run with no earlier run to start from
RECONCILE_CODES = (
    "reconcile_missing_instruction",
    "reconcile_missing_output",
    "reconcile_file_missing",
    "reconcile_file_size",
)


def block_touch(
    *,
    name: str,
    status: str,
    items_processed: int | None = None,
    items_total: int | None = None,
    error: str | None = None,
) -> None:
    """Record what one block just did (upsert by name)."""
    values: dict[str, Any] = {"status": status, "last_activity": timezone.now()}
    if items_processed is not None:
        values["items_processed"] = items_processed
    if items_total is not None:
        values["items_total"] = items_total
    if error is not None:
        values["last_error"] = error[:4000]
    BlockState.objects.update_or_create(name=name, defaults=values)


def sync_request(*, type: str, requested_by: str) -> SyncRun:
    """Create a PENDING run and start it in the background once the row has committed."""
    if type not in SyncType.values:
        raise InvalidInput(
            "Unknown sync type.", fields={"type": [f"Choose one of: {', '.join(SyncType.values)}."]}
        )
    run = SyncRun.objects.create(type=type, requested_by=requested_by)
    run_id = run.pk
    transaction.on_commit(lambda: _enqueue(run_id))
    return run


def _enqueue(run_id: int) -> None:
    from automation_hub.schedules import ops_async_task

    try:
        ops_async_task("monitoring.tasks.run_sync", run_id, task_name=f"sync-{run_id}")
    except Exception as exc:
        logger.exception("sync run %s not queued", run_id)
        SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.PENDING).update(
            status=SyncRun.Status.FAILED, error=f"not queued: {exc}", finished_at=timezone.now()
        )


def sync_scheduled(*, type: str) -> int | None:
    """Entry point of the schedules: request and run at once (already inside a worker)."""
    run = SyncRun.objects.create(type=type, requested_by="schedule")
    sync_execute(run_id=run.pk)
    return run.pk


def _since(run: SyncRun) -> datetime | None:
    if run.type == SyncType.FULL:
        return None
    previous = (
        SyncRun.objects.filter(
            status__in=[SyncRun.Status.COMPLETED, SyncRun.Status.PARTIAL], started_at__isnull=False
        )
        .exclude(pk=run.pk)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    # Overlap a little: a row committed just before the previous run started is seen twice
    # rather than never.
    return (previous - timedelta(minutes=1)) if previous else timezone.now() - INCREMENTAL_FALLBACK


def sync_execute(*, run_id: int) -> SyncRun | None:
    """Run one reconciliation. Returns None when another worker already took this run."""
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.PENDING).update(
        status=SyncRun.Status.RUNNING, started_at=now
    )
    if not claimed:
        return None
    run = SyncRun.objects.get(pk=run_id)
    since = _since(run)
    block_touch(name="reconciliation", status=BlockStatus.IN_PROGRESS, items_processed=0)
    try:
        counts, found = _reconcile(since=since)
    except Exception as exc:
        logger.exception("sync run %s failed", run_id)
        SyncRun.objects.filter(pk=run_id).update(
            status=SyncRun.Status.FAILED, error=str(exc)[:4000], finished_at=timezone.now()
        )
        block_touch(name="reconciliation", status=BlockStatus.FAILED, error=str(exc))
        return SyncRun.objects.get(pk=run_id)
    if run.type == SyncType.FULL:
        _close_fixed(found)
    problems = len(found)
    status = SyncRun.Status.PARTIAL if problems else SyncRun.Status.COMPLETED
    SyncRun.objects.filter(pk=run_id).update(
        status=status, since=since, counts=counts, problems=problems, finished_at=timezone.now()
    )
    checked = sum(v for k, v in counts.items() if k.endswith("_checked"))
    block_touch(
        name="reconciliation",
        status=BlockStatus.PARTIAL if problems else BlockStatus.COMPLETED,
        items_processed=checked - problems,
        items_total=checked,
        error="" if not problems else f"{problems} problem(s) in sync run {run_id}",
    )
    block_touch(
        name="output_storage",
        status=BlockStatus.PARTIAL if counts["files_bad"] else BlockStatus.COMPLETED,
        items_processed=counts["files_checked"] - counts["files_bad"],
        items_total=counts["files_checked"],
        error=f"{counts['files_bad']} file(s) missing or wrong size" if counts["files_bad"] else "",
    )
    return SyncRun.objects.get(pk=run_id)


def _window(queryset: Any, since: datetime | None, field: str = "created_at") -> Any:
    return queryset.filter(**{f"{field}__gte": since}) if since else queryset


def _problem(code: str, subject: int, message: str, **links: Any) -> str:
    key = f"{code}:{subject}"
    event_open(
        dedup_key=key,
        type=EventType.ALERT,
        code=code,
        message=message,
        source=SOURCE,
        severity=Severity.WARNING,
        **links,
    )
    return key


def _reconcile(*, since: datetime | None) -> tuple[dict[str, int], set[str]]:
    found: set[str] = set()
    counts = {
        "hands_checked": 0,
        "hands_missing_instruction": 0,
        "instructions_checked": 0,
        "instructions_missing_output": 0,
        "files_checked": 0,
        "files_bad": 0,
    }
    grace = timezone.now() - timedelta(seconds=settings.MONITOR_ORPHAN_GRACE_SECONDS)
    hands = _window(Hand.objects.filter(is_premium=True, created_at__lte=grace), since)
    premium_ids = set()
    for hand in hands.only("pk", "correlation_id", "table_id", "hand_number").iterator(CHUNK):
        counts["hands_checked"] += 1
        premium_ids.add(hand.pk)
    if premium_ids:
        have = set(
            RenderInstruction.objects.filter(hand_id__in=premium_ids).values_list(
                "hand_id", flat=True
            )
        )
        for hand in Hand.objects.filter(pk__in=premium_ids - have).only(
            "pk", "correlation_id", "table_id", "hand_number"
        ):
            counts["hands_missing_instruction"] += 1
            found.add(
                _problem(
                    "reconcile_missing_instruction",
                    hand.pk,
                    f"Premium hand {hand.table_id} #{hand.hand_number} has no instruction.",
                    hand_id=hand.pk,
                    correlation_id=hand.correlation_id,
                )
            )
    completed = _window(
        RenderInstruction.objects.filter(status=InstructionStatus.COMPLETED), since, "completed_at"
    )
    with_output = set(
        RenderOutput.objects.filter(status=OutputStatus.COMPLETED).values_list(
            "instruction_id", flat=True
        )
        if since is None
        else RenderOutput.objects.filter(
            status=OutputStatus.COMPLETED, instruction__completed_at__gte=since
        ).values_list("instruction_id", flat=True)
    )
    for row in completed.only("pk", "hand_id", "correlation_id").iterator(CHUNK):
        counts["instructions_checked"] += 1
        if row.pk not in with_output:
            counts["instructions_missing_output"] += 1
            found.add(
                _problem(
                    "reconcile_missing_output",
                    row.pk,
                    f"Instruction {row.pk} is completed but has no output.",
                    instruction_id=row.pk,
                    hand_id=row.hand_id,
                    correlation_id=row.correlation_id,
                )
            )
    outputs = _window(RenderOutput.objects.filter(status=OutputStatus.COMPLETED), since)
    for output in outputs.select_related("instruction").iterator(CHUNK):
        counts["files_checked"] += 1
        key = _check_file(output)
        if key:
            counts["files_bad"] += 1
            found.add(key)
    return counts, found


def output_file_size(path_text: str) -> int | None:
    """Size on storage (a frame sequence's directory counts all its files); None if absent."""
    path = Path(path_text)
    if not path.is_absolute():
        path = Path(settings.OUTPUT_ROOT) / path
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return None


def _check_file(output: RenderOutput) -> str | None:
    size = output_file_size(output.output_path)
    links = {
        "instruction_id": output.instruction_id,
        "hand_id": output.instruction.hand_id,
        "correlation_id": output.instruction.correlation_id,
    }
    if size is None:
        return _problem(
            "reconcile_file_missing",
            output.pk,
            f"Output {output.pk} file {output.output_path} is missing.",
            **links,
        )
    if size != output.file_size:
        return _problem(
            "reconcile_file_size",
            output.pk,
            f"Output {output.pk} file {output.output_path} is {size} B, recorded "
            f"{output.file_size} B.",
            **links,
        )
    return None


def _close_fixed(found: set[str]) -> None:
    open_keys = set(
        MonitoringEvent.objects.filter(
            code__in=RECONCILE_CODES, resolved=False, dedup_key__isnull=False
        ).values_list("dedup_key", flat=True)
    )
    events_auto_resolve(
        dedup_keys=open_keys - found, note="Cleared: a full reconciliation found it in order."
    )
