"""The transition table and what every transition records.

One row per kind of change: the states it may start from, where it leads, the one event code it
records and whether it is audited (a person's action or an automatic decision). The functions in
this package name their row and go through `transition_apply` (or, on the workers' hot path, a
single UPDATE with the same from-states), so the rules live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from automation_hub.journal import event_record
from automation_hub.live import publish_on_commit
from automation_hub.models import EventType, Severity
from rendering.models import AuditEntry, InstructionStatus, RenderInstruction
from rendering.services import dispatch as wakeups
from rendering.services.payloads import instruction_live_data

S = InstructionStatus

# The fields only this package writes (tests/hub/test_architecture.py checks the code base).
STATE_FIELDS = frozenset(
    {
        "status",
        "priority",
        "claimed_by",
        "lease_id",
        "heartbeat_at",
        "next_attempt_at",
        "retry_count",
        "external_id",
    }
)

# A row that goes back to the queue, or out of it, belongs to no worker any more: a late report
# from the old holder then matches no row (status, holder and lease are all checked) and is
# refused. The job's identity on the render backend (`external_id`) is kept.
CLAIM_RESET: dict[str, Any] = {
    "claimed_by": "",
    "lease_id": None,
    "heartbeat_at": None,
    "render_progress": 0,
}


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]  # the states it may start from
    target: str | None  # None: the status stays (heartbeat, priority)
    event: str = ""  # the MonitoringEvent code it records ("": none)
    event_type: str = EventType.SYSTEM
    severity: str = Severity.INFO
    audited: bool = False  # an AuditEntry: a person acted, or the hub decided on its own
    # Fields of the row its audit entry keeps before → after beside the state (`snapshot`).
    keeps: tuple[str, ...] = ()


RETRYABLE = (S.FAILED, S.STALE, S.CANCELLED)
UNFINISHED = (S.PENDING, S.PROCESSING, S.FAILED, S.STALE)

ALERT, REMEDIATION, OPERATION = EventType.ALERT, EventType.REMEDIATION, EventType.OPERATION

CREATE = Transition("create", (), S.PENDING)
# Worker reports (internal workers and the pull API): not decisions, not audited.
CLAIM = Transition("claim", (S.PENDING,), S.PROCESSING)
HEARTBEAT = Transition("heartbeat", (S.PROCESSING,), None)
COMPLETE = Transition("complete", (S.PROCESSING,), S.COMPLETED)
FAIL = Transition("fail", (S.PROCESSING,), S.FAILED)  # a retry is due at its backoff
FAIL_FINAL = Transition(
    "fail_final", (S.PROCESSING,), S.FAILED,
    event="job_failed_permanently", event_type=ALERT, severity=Severity.ERROR,
)  # fmt: skip
# The render ran past RENDER_DEADLINE_SECONDS with no retry left: timed out, not failed.
TIME_OUT_FINAL = Transition(
    "time_out_final", (S.PROCESSING,), S.STALE,
    event="job_timed_out", event_type=ALERT, severity=Severity.ERROR,
)  # fmt: skip
RELEASE = Transition("release", (S.PROCESSING,), S.PENDING)  # the backend was at fault
# The backend job's identity, stored under the lease before the job is submitted, so every later
# claim (after a release, a reap, a restart) finds the job again instead of rendering twice.
ASSIGN_JOB = Transition("assign_job", (S.PROCESSING,), None)
# A submitted job's lease moves from the worker that submitted it to the process that follows it
# on the backend (the Nexrender follower): the worker is free for the next job.
HAND_OFF = Transition("hand_off", (S.PROCESSING,), None)
# The hub's own decisions.
RELEASE_HELD = Transition(
    "release_held", (S.PROCESSING,), S.PENDING,
    event="job_held_back", event_type=REMEDIATION, severity=Severity.WARNING, audited=True,
)  # fmt: skip
# A job that waited on a saturated render farm past NEXRENDER_QUEUED_SECONDS goes back to the
# queue without spending a retry (the farm, not the job, was at fault), and is shown.
RELEASE_SATURATED = Transition(
    "release_saturated", (S.PROCESSING,), S.PENDING,
    event="farm_saturated", event_type=REMEDIATION, severity=Severity.WARNING, audited=True,
)  # fmt: skip
REAP = Transition(
    "reap", (S.PROCESSING,), S.PENDING,
    event="stuck_job_recovered", event_type=REMEDIATION, severity=Severity.WARNING, audited=True,
)  # fmt: skip
REAP_FINAL = Transition(
    "reap_final", (S.PROCESSING,), S.STALE,
    event="job_timed_out", event_type=ALERT, severity=Severity.ERROR, audited=True,
)  # fmt: skip
AUTO_RETRY = Transition(
    "auto_retry", (S.FAILED,), S.PENDING,
    event="job_auto_retried", event_type=REMEDIATION, audited=True,
)  # fmt: skip
RAISE_PRIORITY = Transition(
    "raise_priority", (S.PENDING,), None,
    event="priority_raised", event_type=REMEDIATION, audited=True,
)  # fmt: skip
# People (API, pages, admin, commands).
RETRY = Transition(
    "retry", RETRYABLE, S.PENDING, event="manual_retry", event_type=OPERATION, audited=True
)
BULK_RETRY = Transition(
    "bulk_retry", RETRYABLE, S.PENDING,
    event="manual_bulk_retry", event_type=OPERATION, audited=True,
)  # fmt: skip
CANCEL = Transition(
    "cancel", UNFINISHED, S.CANCELLED,
    event="manual_cancel", event_type=OPERATION, audited=True,
)  # fmt: skip
# Fix the settings of a job that failed (or is waiting) and queue it again: the audit entry keeps
# its layer data and output settings before → after.
EDIT_RETRY = Transition(
    "edit_retry", (S.PENDING, *RETRYABLE), S.PENDING,
    event="manual_edit_retry", event_type=OPERATION, audited=True,
    keeps=("layer_data", "output_settings"),
)  # fmt: skip
CHANGE_PRIORITY = Transition(
    "change_priority", UNFINISHED, None,
    event="manual_change_priority", event_type=OPERATION, audited=True,
)  # fmt: skip
# `manage.py simulate` fast-forwards fabricated rows of a simulated day.
SIMULATE = Transition("simulate", (S.PENDING,), None)

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        CREATE, CLAIM, HEARTBEAT, COMPLETE, FAIL, FAIL_FINAL, TIME_OUT_FINAL, RELEASE,
        ASSIGN_JOB, HAND_OFF, RELEASE_SATURATED, RELEASE_HELD, REAP, REAP_FINAL, AUTO_RETRY,
        RAISE_PRIORITY, RETRY, BULK_RETRY, CANCEL, EDIT_RETRY, CHANGE_PRIORITY, SIMULATE,
    )
}  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Who changes a row: the name kept in the audit trail, the user row when it is a person,
    the way in (api, page, admin, command, system) and the block its events come from."""

    name: str
    user: Any = None
    via: str = "api"
    block: str = "manual_override"

    @property
    def user_or_none(self) -> Any:
        return self.user if getattr(self.user, "pk", None) else None


REAPER = Actor(name="reaper", via="system", block="render_queue")
RETRY_SWEEP = Actor(name="retry sweep", via="system", block="render_queue")
MONITOR = Actor(name="monitor", via="system", block="monitor")


def snapshot(row: RenderInstruction, keeps: tuple[str, ...] = ()) -> dict[str, Any]:
    """What an audit entry keeps of a row before and after a change (and the `keeps` fields)."""
    return {
        "status": row.status,
        "priority": row.priority,
        "retry_count": row.retry_count,
        "claimed_by": row.claimed_by,
        "error_message": row.error_message[:500],
        **{name: getattr(row, name) for name in keeps},
    }


def transition_apply(
    t: Transition,
    *,
    instruction_id: int,
    changes: dict[str, Any],
    actor: Actor,
    reason: str,
    message: str | Callable[[RenderInstruction], str],
    match: Q | None = None,
    details: dict[str, Any] | None = None,
    dispatch: bool = False,
    skip_locked: bool = False,
) -> RenderInstruction | None:
    """Apply `t` to one row if it is in one of `t.sources` (and matches `match`); None if not.

    The row is locked for the before snapshot (or skipped when another transaction holds it and
    `skip_locked`), changed by one conditional UPDATE checked by its count, and recorded: its
    event (`message`, or `message(after)`), its audit entry, its live update; the workers'
    wake-up goes out after commit.
    """
    condition = Q(pk=instruction_id, status__in=t.sources) & (match or Q())
    with transaction.atomic():
        locked = RenderInstruction.objects.select_for_update(skip_locked=skip_locked)
        before = locked.filter(condition).first()
        if before is None:
            return None
        changed = RenderInstruction.objects.filter(condition).update(
            **changes, updated_at=timezone.now()
        )
        if not changed:  # cannot happen under the row lock; never record a change not made
            return None
        after = RenderInstruction.objects.get(pk=instruction_id)
        text = message(after) if callable(message) else message
        transition_record(
            t, before=before, after=after, actor=actor, reason=reason, message=text,
            details=details,
        )  # fmt: skip
        if dispatch:
            transaction.on_commit(
                lambda: wakeups.instruction_dispatch(instruction_id=instruction_id)
            )
    return after


def transition_record(
    t: Transition,
    *,
    before: RenderInstruction | None,
    after: RenderInstruction,
    actor: Actor,
    reason: str = "",
    message: str = "",
    details: dict[str, Any] | None = None,
    journal: bool = True,
) -> None:
    """The audit entry (given the row `before`), event (unless `journal` is False: a bulk change
    records one for all its rows) and live update of a change just made, in its transaction."""
    if t.audited and before is not None:
        audit_record(t, rows=[(before, after)], actor=actor, reason=reason, details=details)
    if t.event and journal:
        event_record(
            type=t.event_type,
            code=t.event,
            severity=t.severity,
            source=actor.block,
            message=message,
            details={
                "actor": actor.name,
                **({"reason": reason} if reason else {}),
                **(details or {}),
            },
            instruction_id=after.pk,
            hand_id=after.hand_id,
            correlation_id=after.correlation_id,
        )
    data = instruction_live_data(after)
    if t.audited:
        data.update(action=t.name, actor=actor.name, reason=reason)
    publish_on_commit("instruction_updated", data)


def audit_record(
    t: Transition,
    *,
    rows: list[tuple[RenderInstruction | dict[str, Any], RenderInstruction]],
    actor: Actor,
    reason: str,
    details: dict[str, Any] | None = None,
) -> list[AuditEntry]:
    """One audit entry per changed row (before → after), in one INSERT."""
    entries = [
        AuditEntry(
            instruction_id=after.pk,
            actor=actor.user_or_none,
            actor_name=actor.name,
            action=t.name,
            reason=reason,
            target_type=AuditEntry.INSTRUCTION,
            target_ids=[after.pk],
            before=before if isinstance(before, dict) else snapshot(before, t.keeps),
            after={**snapshot(after, t.keeps), **(details or {})},
            via=actor.via,
        )
        for before, after in rows
    ]
    return AuditEntry.objects.bulk_create(entries)
