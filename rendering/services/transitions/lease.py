"""Worker transitions: claim, heartbeat, complete, fail, release (internal workers and pull API).

A worker holds a row while it is PROCESSING with its `claimed_by` and `lease_id`; once the row
was reaped, cancelled or claimed again, that worker's reports are refused (LeaseLost) and the
late result is recorded. These run for every job, so claim and completion are one
`UPDATE … RETURNING` each on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from automation_hub.errors import LeaseLost, NotFound
from automation_hub.journal import event_record, events_resolve_for_instruction
from automation_hub.live import publish_many, publish_on_commit
from automation_hub.models import EventType, Severity
from rendering.models import OutputStatus, RenderInstruction, RenderOutput
from rendering.services.payloads import instruction_live_data, render_completed_data
from rendering.services.retry import retry_policy_for
from rendering.services.transitions.table import (
    ASSIGN_JOB,
    CLAIM,
    CLAIM_RESET,
    COMPLETE,
    FAIL,
    FAIL_FINAL,
    HAND_OFF,
    HEARTBEAT,
    RELEASE,
    RELEASE_HELD,
    RELEASE_SATURATED,
    TIME_OUT_FINAL,
    Actor,
    transition_record,
)

QUEUE = Actor(name="render queue", via="system", block="render_queue")


def claimable_instructions(*, now: Any = None) -> QuerySet[RenderInstruction]:
    """PENDING rows whose backoff has passed, best first: priority 1 first, then oldest."""
    now = now or timezone.now()
    return RenderInstruction.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status__in=CLAIM.sources,
    ).order_by("priority", "created_at", "id")


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    """A lease id as given by a worker; one that is not a UUID matches no row (NULL never does)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _held(*, instruction_id: int, worker_id: str, lease_id: uuid.UUID | str | None) -> Q:
    """Rows a worker may report on: PROCESSING, claimed by it, under its lease if it gave one."""
    held = Q(pk=instruction_id, status__in=HEARTBEAT.sources, claimed_by=worker_id)
    if lease_id is not None:
        lease = _as_uuid(lease_id)
        held &= Q(lease_id=lease) if lease is not None else Q(pk__in=[])
    return held


def instruction_claim_next(*, worker_id: str, backend: str = "") -> RenderInstruction | None:
    """Atomically take the best claimable PENDING row for `worker_id`, or None when there is none.

    PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` so concurrent claimers take different rows
    without waiting. SQLite has one writer at a time: a single conditional UPDATE whose subquery
    picks the row, checked by its count (0 means another worker got there first; try again).
    """
    if not worker_id:
        raise ValueError("worker_id is required")
    now = timezone.now()
    lease_id = uuid.uuid4()
    claim = {
        "status": CLAIM.target,
        "claimed_by": worker_id,
        "lease_id": lease_id,
        "heartbeat_at": now,
        "started_at": now,
        "next_attempt_at": None,
        "backend": backend,
        # `external_id` stays: the job a previous lease left on the backend is found again.
        "render_progress": 0,
        "updated_at": now,
    }
    if settings.DB_VENDOR == "postgresql":
        instruction = _claim_postgresql(now=now, claim=claim)
        if instruction is None:
            return None
    else:
        for _ in range(10):
            candidate = claimable_instructions(now=now).values("pk")[:1]
            taken = RenderInstruction.objects.filter(
                pk__in=candidate, status__in=CLAIM.sources
            ).update(**claim)
            if taken:
                break
            if not claimable_instructions(now=now).exists():
                return None
        else:
            return None
        instruction = RenderInstruction.objects.get(lease_id=lease_id)
    publish_on_commit("instruction_updated", instruction_live_data(instruction))
    return instruction


def _claim_postgresql(*, now: Any, claim: dict[str, Any]) -> RenderInstruction | None:
    """One statement, its own transaction: lock the best claimable row (skipping rows other
    claimers hold), take it and return it. Same order and filter as `claimable_instructions`,
    served by the partial index `instr_claim_idx`."""
    table = connection.ops.quote_name(RenderInstruction._meta.db_table)
    return _update_returning(
        changes=claim,
        where=(
            # Only the table name is interpolated (from the model); values are parameters.
            f"id = (SELECT id FROM {table} WHERE status = %s"  # noqa: S608
            " AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
            " ORDER BY priority, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        ),
        params=[CLAIM.sources[0], now],
    )


def _update_returning(
    *, changes: dict[str, Any], where: str, params: list[Any]
) -> RenderInstruction | None:
    """PostgreSQL: `UPDATE … WHERE <where> RETURNING *` as a model instance, or None when no row
    matched. The queue's hot path (every claim and completion): one round trip instead of an
    UPDATE and a SELECT, and no query compilation."""
    meta = RenderInstruction._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in changes]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    values = [field.get_db_prep_save(changes[field.name], connection) for field in fields]
    returned = meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in returned)
    # Identifiers come from the model and `where` from this module; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where} RETURNING {columns}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        row = cursor.fetchone()
    if row is None:
        return None
    loaded = []
    for field, value in zip(returned, row, strict=True):
        column = field.get_col(meta.db_table)
        for convert in connection.ops.get_db_converters(column) + field.get_db_converters(
            connection
        ):
            value = convert(value, column, connection)
        loaded.append(value)
    return RenderInstruction.from_db(connection.alias, [f.attname for f in returned], loaded)


def instruction_heartbeat(
    *,
    instruction_id: int,
    worker_id: str,
    lease_id: uuid.UUID | str | None = None,
    progress: int | None = None,
    external_id: str | None = None,
) -> None:
    """Show the holder is alive (and how far it got). LeaseLost when it no longer holds the row."""
    changes: dict[str, Any] = {"heartbeat_at": timezone.now(), "updated_at": timezone.now()}
    if progress is not None:
        changes["render_progress"] = max(0, min(int(progress), 100))
    if external_id is not None:
        changes["external_id"] = external_id
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    if not RenderInstruction.objects.filter(held).update(**changes):
        _raise_not_held(instruction_id=instruction_id, worker_id=worker_id, action="heartbeat")
    if progress is not None:
        publish_on_commit(
            "instruction_updated",
            instruction_live_data(RenderInstruction.objects.get(pk=instruction_id)),
        )


def instruction_assign_job(
    *, instruction_id: int, worker_id: str, lease_id: uuid.UUID | str, external_id: str
) -> None:
    """Store the backend job's identity under the holder's lease, before the job is submitted:
    whatever happens to this lease, the next claim finds the job. LeaseLost if not held."""
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    changes = {"external_id": external_id, "updated_at": timezone.now()}
    if not RenderInstruction.objects.filter(held, status__in=ASSIGN_JOB.sources).update(**changes):
        _raise_not_held(instruction_id=instruction_id, worker_id=worker_id, action="assign job")


def instruction_hand_off(
    *, instruction_id: int, worker_id: str, lease_id: uuid.UUID | str, to: str
) -> None:
    """The lease (same id) moves from `worker_id` to `to`, heart-beaten now: a submitted job is
    followed by another process. LeaseLost when `worker_id` no longer held it."""
    if not to:
        raise ValueError("the new holder is required")
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    now = timezone.now()
    changes = {"claimed_by": to, "heartbeat_at": now, "updated_at": now}
    if not RenderInstruction.objects.filter(held, status__in=HAND_OFF.sources).update(**changes):
        _raise_not_held(instruction_id=instruction_id, worker_id=worker_id, action="hand off")


def instructions_heartbeat_held(*, worker_id: str, leases: dict[int, uuid.UUID]) -> set[int]:
    """One heartbeat for every lease `worker_id` holds among `leases` (instruction id → lease
    id): one UPDATE, one SELECT. Returns the ids it still holds; the others were lost."""
    if not leases:
        return set()
    now = timezone.now()
    mine = RenderInstruction.objects.filter(
        pk__in=list(leases), status__in=HEARTBEAT.sources, claimed_by=worker_id
    )
    mine.update(heartbeat_at=now, updated_at=now)
    return {pk for pk, lease in mine.values_list("pk", "lease_id") if leases.get(pk) == lease}


def instruction_complete(
    *,
    instruction_id: int,
    worker_id: str,
    lease_id: uuid.UUID | str | None = None,
    output_path: str,
    file_size: int,
    frame_count: int = 1,
) -> RenderOutput:
    """PROCESSING → COMPLETED with its RenderOutput, only for the row's current holder.

    A late result (row reaped, cancelled or claimed again) is refused with LeaseLost and recorded
    as a MonitoringEvent; nothing else changes.
    """
    now = timezone.now()
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    changes = {
        "status": COMPLETE.target,
        "completed_at": now,
        "render_progress": 100,
        "error_message": "",
        "next_attempt_at": None,
        "releases": 0,
        "updated_at": now,
    }
    with transaction.atomic():
        if settings.DB_VENDOR == "postgresql":
            where = "id = %s AND status = %s AND claimed_by = %s"
            params: list[Any] = [instruction_id, COMPLETE.sources[0], worker_id]
            if lease_id is not None:
                where += " AND lease_id = %s"
                params.append(_as_uuid(lease_id))
            instruction = _update_returning(changes=changes, where=where, params=params)
        elif RenderInstruction.objects.filter(held).update(**changes):
            instruction = RenderInstruction.objects.get(pk=instruction_id)
        else:
            instruction = None
        if instruction is not None:
            output = RenderOutput.objects.create(
                instruction_id=instruction_id,
                output_path=output_path,
                file_size=file_size,
                frame_count=frame_count,
                status=OutputStatus.COMPLETED,
                completed_at=now,
            )
            # Its failures, timeouts and delays are over: their open alerts close themselves.
            events_resolve_for_instruction(
                instruction_id=instruction_id, why=f"instruction {instruction_id} completed"
            )
            publish_many(
                [
                    ("instruction_updated", instruction_live_data(instruction)),
                    ("render_completed", render_completed_data(instruction, output)),
                ]
            )
            return output
    done = _completed_under(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    if done is not None:
        return done  # a retry of a completion whose answer was lost: it is recorded already
    _refuse_late_result(instruction_id=instruction_id, worker_id=worker_id, action="complete")
    raise AssertionError("unreachable")  # _refuse_late_result always raises


def _completed_under(
    *, instruction_id: int, worker_id: str, lease_id: uuid.UUID | str | None
) -> RenderOutput | None:
    """The output this very lease completed, if it did (the row stays COMPLETED under it)."""
    lease = _as_uuid(lease_id) if lease_id is not None else None
    if lease is None:
        return None
    return RenderOutput.objects.filter(
        instruction_id=instruction_id,
        status=OutputStatus.COMPLETED,
        instruction__status=COMPLETE.target,
        instruction__claimed_by=worker_id,
        instruction__lease_id=lease,
    ).first()


def instruction_fail(
    *,
    instruction_id: int,
    worker_id: str,
    lease_id: uuid.UUID | str | None = None,
    error_message: str,
    retryable: bool = True,
    timed_out: bool = False,
) -> RenderInstruction:
    """PROCESSING → FAILED for the holder. Under max_retries (and retryable) the row gets a
    `next_attempt_at` from its backend's retry policy and is re-queued then; otherwise it is
    done for good: FAILED (`job_failed_permanently`) when the render failed, STALE
    (`job_timed_out`) when it ran past its deadline; either way an alert.
    """
    now = timezone.now()
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    with transaction.atomic():
        row = RenderInstruction.objects.select_for_update().filter(held).first()
        if row is not None:
            will_retry = retryable and row.retry_count < row.max_retries
            policy = retry_policy_for(backend=row.backend or settings.RENDER_BACKEND)
            final = FAIL_FINAL if not timed_out else TIME_OUT_FINAL
            t = FAIL if will_retry else final
            RenderInstruction.objects.filter(held).update(
                status=t.target,
                releases=0,
                error_message=error_message[:4000],
                next_attempt_at=now + policy.delay(retry_count=row.retry_count)
                if will_retry
                else None,
                completed_at=now,
                updated_at=now,
            )
            after = RenderInstruction.objects.get(pk=instruction_id)
            transition_record(
                t,
                before=row,
                after=after,
                actor=QUEUE,
                message=(
                    f"Instruction {after.pk} ({after.template_name}) "
                    f"{'timed out' if timed_out else 'failed'} after {after.retry_count} "
                    f"retries: {error_message}"
                ),
                details={"retry_count": after.retry_count, "max_retries": after.max_retries},
            )
            return after
    _refuse_late_result(instruction_id=instruction_id, worker_id=worker_id, action="fail")
    raise AssertionError("unreachable")


def instruction_release(
    *, instruction_id: int, worker_id: str, lease_id: uuid.UUID | str | None = None, reason: str
) -> bool:
    """PROCESSING → PENDING without spending a retry (the backend, not the job, was at fault).

    A job released RENDER_RELEASE_HOLD_AFTER times in a row without a render in between is held
    back (its next claim waits, doubling each time) so it cannot keep the head of the queue
    busy; that is an automatic decision, audited. False when the worker no longer held the row.
    """
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    with transaction.atomic():
        row = RenderInstruction.objects.select_for_update().filter(held).first()
        if row is None:
            return False
        releases = row.releases + 1
        wait = _hold_back(releases)
        RenderInstruction.objects.filter(held).update(
            status=RELEASE.target,
            error_message=reason[:4000],
            releases=releases,
            next_attempt_at=timezone.now() + wait if wait else None,
            updated_at=timezone.now(),
            **CLAIM_RESET,
        )
        after = RenderInstruction.objects.get(pk=instruction_id)
        if wait is None:
            transition_record(RELEASE, before=None, after=after, actor=QUEUE)
        else:
            why = f"released {releases} times in a row ({reason})"
            transition_record(
                RELEASE_HELD,
                before=row,
                after=after,
                actor=QUEUE,
                reason=why,
                message=f"Instruction {after.pk} {why}: held back {int(wait.total_seconds())} s.",
                details={"releases": releases, "wait_seconds": int(wait.total_seconds())},
            )
    return True


def instruction_release_saturated(
    *, instruction_id: int, worker_id: str, lease_id: uuid.UUID | str, waited_seconds: float
) -> bool:
    """PROCESSING → PENDING without spending a retry: the job waited on the render farm past
    NEXRENDER_QUEUED_SECONDS, so the farm is saturated. It waits RENDER_RELEASE_HOLD_SECONDS
    before its next claim (re-submitting it at once would only queue it again). An automatic
    decision: audited and shown (`farm_saturated`). False when the worker no longer held it."""
    held = _held(instruction_id=instruction_id, worker_id=worker_id, lease_id=lease_id)
    why = f"waited {waited_seconds:.0f} s on a saturated render farm"
    with transaction.atomic():
        row = RenderInstruction.objects.select_for_update().filter(held).first()
        if row is None:
            return False
        RenderInstruction.objects.filter(held).update(
            status=RELEASE_SATURATED.target,
            error_message=f"Released: {why}"[:4000],
            releases=row.releases + 1,
            next_attempt_at=timezone.now()
            + timedelta(seconds=settings.RENDER_RELEASE_HOLD_SECONDS),
            updated_at=timezone.now(),
            **CLAIM_RESET,
        )
        after = RenderInstruction.objects.get(pk=instruction_id)
        transition_record(
            RELEASE_SATURATED,
            before=row,
            after=after,
            actor=QUEUE,
            reason=why,
            message=f"Instruction {after.pk} {why}: back to PENDING, no retry spent.",
            details={"waited_seconds": round(waited_seconds)},
        )
    return True


def _hold_back(releases: int) -> timedelta | None:
    """How long a job released `releases` times in a row waits before its next claim."""
    over = releases - settings.RENDER_RELEASE_HOLD_AFTER
    if over < 0:
        return None
    seconds = settings.RENDER_RELEASE_HOLD_SECONDS * 2 ** min(over, 16)
    return timedelta(seconds=min(seconds, settings.RENDER_RELEASE_HOLD_MAX_SECONDS))


def _raise_not_held(*, instruction_id: int, worker_id: str, action: str) -> None:
    current = RenderInstruction.objects.filter(pk=instruction_id).first()
    if current is None:
        raise NotFound(f"Instruction {instruction_id} does not exist.")
    raise LeaseLost(
        f"Worker {worker_id!r} no longer holds instruction {instruction_id} "
        f"(it is {current.status}, held by {current.claimed_by or 'nobody'}); {action} refused.",
        extra={"status": current.status},
    )


def _refuse_late_result(*, instruction_id: int, worker_id: str, action: str) -> None:
    """Record a result that arrived after the worker lost the row, then raise LeaseLost."""
    current = RenderInstruction.objects.filter(pk=instruction_id).first()
    if current is None:
        raise NotFound(f"Instruction {instruction_id} does not exist.")
    event_record(
        type=EventType.ANOMALY,
        code="late_result_refused",
        severity=Severity.WARNING,
        source=QUEUE.block,
        message=(
            f"Worker {worker_id} reported {action} for instruction {instruction_id} after losing "
            f"it (now {current.status}); the result was not applied."
        ),
        details={"worker_id": worker_id, "action": action, "status": current.status},
        instruction_id=current.pk,
        hand_id=current.hand_id,
        correlation_id=current.correlation_id,
    )
    _raise_not_held(instruction_id=instruction_id, worker_id=worker_id, action=action)
