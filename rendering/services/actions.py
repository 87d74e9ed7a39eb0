"""Manual override of the render queue: retry, cancel, change priority, bulk retry.

Each action is one conditional UPDATE checked by its count (the row is in a state the action
may start from, or nothing changes and the caller gets IllegalTransition with the reason), an
AuditEntry (who, why, which rows, before → after), an `operation` MonitoringEvent on the
instruction's correlation id, and, once committed, the live `instruction_updated` event and the
workers' wake-up. API, admin and the `bulk_retry` command all call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from automation_hub.errors import IllegalTransition, InvalidInput, NotFound
from automation_hub.live import publish_on_commit
from monitoring.models import AuditEntry, EventType
from monitoring.services.events import event_record
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.dispatch import instruction_dispatch
from rendering.services.instructions import instruction_live_data

SOURCE = "manual_override"
S = InstructionStatus

# Retry starts again from a finished-but-not-done state. PENDING is already queued, PROCESSING
# is held by a worker (cancel it first), COMPLETED has its output (create a new instruction).
RETRYABLE = (S.FAILED, S.STALE, S.CANCELLED)
CANCELLABLE = (S.PENDING, S.PROCESSING, S.FAILED, S.STALE)
REPRIORITIZABLE = (S.PENDING, S.PROCESSING, S.FAILED, S.STALE)

_WHY_NOT = {
    "retry": {
        S.PENDING: "it is already pending in the queue",
        S.PROCESSING: "a worker is rendering it; cancel it first",
        S.COMPLETED: "it is completed and has its output; create a new instruction to re-render",
    },
    "cancel": {
        S.COMPLETED: "it is already completed",
        S.CANCELLED: "it is already cancelled",
    },
    "change_priority": {
        S.COMPLETED: "it is completed; priority no longer matters",
        S.CANCELLED: "it is cancelled; priority no longer matters",
    },
}

# A retried or cancelled row belongs to no worker: a late result from the old holder then
# matches no row (the queue checks status, holder and lease) and is refused.
_CLAIM_RESET: dict[str, Any] = {
    "claimed_by": "",
    "lease_id": None,
    "heartbeat_at": None,
    "next_attempt_at": None,
}

MAX_BULK_ROWS = 5000


@dataclass(frozen=True)
class Actor:
    """Who acts: the name kept in the audit trail, the user row when it is a person."""

    name: str
    user: Any = None
    via: str = "api"


@dataclass
class BulkRetryResult:
    count: int
    ids: list[int]
    dry_run: bool
    audit_id: int | None = None
    skipped: list[int] = field(default_factory=list)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["This field is required."]})
    return reason


def _snapshot(row: RenderInstruction) -> dict[str, Any]:
    return {
        "status": row.status,
        "priority": row.priority,
        "retry_count": row.retry_count,
        "claimed_by": row.claimed_by,
        "error_message": row.error_message[:500],
    }


def _refuse(action: str, instruction_id: int) -> None:
    current = RenderInstruction.objects.filter(pk=instruction_id).first()
    if current is None:
        raise NotFound(f"Instruction {instruction_id} does not exist.")
    why = _WHY_NOT[action].get(current.status, f"it is {current.status}")
    raise IllegalTransition(
        f"Cannot {action.replace('_', ' ')} instruction {instruction_id}: {why}.",
        extra={"status": current.status},
    )


def _apply(
    *,
    action: str,
    instruction_id: int,
    allowed: tuple[str, ...],
    changes: dict[str, Any],
    reason: str,
    actor: Actor,
    message: str,
    dispatch: bool = False,
) -> RenderInstruction:
    reason = _require_reason(reason)
    with transaction.atomic():
        before_row = RenderInstruction.objects.filter(pk=instruction_id).first()
        if before_row is None:
            raise NotFound(f"Instruction {instruction_id} does not exist.")
        changed = RenderInstruction.objects.filter(pk=instruction_id, status__in=allowed).update(
            **changes, updated_at=timezone.now()
        )
        if not changed:
            _refuse(action, instruction_id)
        row = RenderInstruction.objects.get(pk=instruction_id)
        _audit(action, [row.pk], reason, actor, _snapshot(before_row), _snapshot(row))
        event_record(
            type=EventType.OPERATION,
            code=f"manual_{action}",
            message=f"{actor.name} {message} instruction {row.pk}: {reason}",
            source=SOURCE,
            details={"actor": actor.name, "reason": reason, "before": _snapshot(before_row)},
            instruction_id=row.pk,
            hand_id=row.hand_id,
            correlation_id=row.correlation_id,
        )
        if dispatch:
            transaction.on_commit(lambda: instruction_dispatch(instruction_id=instruction_id))
        publish_on_commit(
            "instruction_updated",
            {**instruction_live_data(row), "action": action, "actor": actor.name, "reason": reason},
        )
    return row


def _audit(
    action: str,
    ids: list[int],
    reason: str,
    actor: Actor,
    before: dict[str, Any],
    after: dict[str, Any],
) -> AuditEntry:
    user = actor.user if getattr(actor.user, "pk", None) else None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=actor.name,
        action=action,
        reason=reason,
        target_type="rendering.renderinstruction",
        target_ids=ids,
        before=before,
        after=after,
        via=actor.via,
    )


def _retry_changes() -> dict[str, Any]:
    # An operator's retry grants a fresh automatic-retry budget: the job failed its budget
    # already, and a person decided it deserves another round.
    return {
        "status": S.PENDING,
        "retry_count": 0,
        "error_message": "",
        "render_progress": 0,
        "started_at": None,
        "completed_at": None,
        **_CLAIM_RESET,
    }


def instruction_manual_retry(
    *, instruction_id: int, reason: str, actor: Actor
) -> RenderInstruction:
    """FAILED / STALE / CANCELLED → PENDING; the workers are woken after commit."""
    return _apply(
        action="retry",
        instruction_id=instruction_id,
        allowed=RETRYABLE,
        changes=_retry_changes(),
        reason=reason,
        actor=actor,
        message="re-queued",
        dispatch=True,
    )


def instruction_cancel(*, instruction_id: int, reason: str, actor: Actor) -> RenderInstruction:
    """PENDING / PROCESSING / FAILED / STALE → CANCELLED. A worker still rendering it loses its
    lease, so its completion or failure report is refused by the queue."""
    return _apply(
        action="cancel",
        instruction_id=instruction_id,
        allowed=CANCELLABLE,
        changes={"status": S.CANCELLED, **_CLAIM_RESET},
        reason=reason,
        actor=actor,
        message="cancelled",
    )


def instruction_change_priority(
    *, instruction_id: int, priority: int, reason: str, actor: Actor
) -> RenderInstruction:
    """Set priority 1 (highest) … 10 of a job that is not finished."""
    if not isinstance(priority, int) or not 1 <= priority <= 10:
        raise InvalidInput(
            "Priority must be 1 … 10.", fields={"priority": ["Must be an integer from 1 to 10."]}
        )
    return _apply(
        action="change_priority",
        instruction_id=instruction_id,
        allowed=REPRIORITIZABLE,
        changes={"priority": priority},
        reason=reason,
        actor=actor,
        message=f"set priority {priority} on",
    )


def bulk_retry_queryset(
    *,
    status: str = S.FAILED,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    template_name: str = "",
    trigger_type: str = "",
) -> Any:
    """The rows a bulk retry with this filter would re-queue, oldest first."""
    if status not in RETRYABLE:
        raise InvalidInput(
            f"Bulk retry takes {', '.join(RETRYABLE)} rows, not {status}.",
            fields={"filter.status": [f"Choose one of: {', '.join(RETRYABLE)}."]},
        )
    if created_after and created_before and created_after >= created_before:
        raise InvalidInput(
            "created_after must be before created_before.",
            fields={"filter.created_before": ["Must be later than created_after."]},
        )
    match = Q(status=status)
    if created_after:
        match &= Q(created_at__gte=created_after)
    if created_before:
        match &= Q(created_at__lt=created_before)
    if template_name:
        match &= Q(template_name=template_name)
    if trigger_type:
        match &= Q(trigger_type=trigger_type)
    return RenderInstruction.objects.filter(match).order_by("created_at", "id")


def instructions_bulk_retry(
    *, filter: dict[str, Any], reason: str, actor: Actor, dry_run: bool = False
) -> BulkRetryResult:
    """Re-queue every row the filter matches (at most MAX_BULK_ROWS, else 400: narrow it).

    Dry run: count and ids, nothing written. Otherwise rows are locked (skipping rows a worker
    or another operator holds right now), moved to PENDING with one UPDATE, audited once.
    """
    reason = _require_reason(reason)
    queryset = bulk_retry_queryset(**filter)
    if dry_run:
        ids = list(queryset.values_list("pk", flat=True)[: MAX_BULK_ROWS + 1])
        _check_size(len(ids))
        return BulkRetryResult(count=len(ids), ids=ids, dry_run=True)
    with transaction.atomic():
        locked = list(
            queryset.select_for_update(skip_locked=True).values_list("pk", "status", "retry_count")[
                : MAX_BULK_ROWS + 1
            ]
        )
        _check_size(len(locked))
        ids = [pk for pk, _, _ in locked]
        changed = RenderInstruction.objects.filter(pk__in=ids, status__in=RETRYABLE).update(
            **_retry_changes(), updated_at=timezone.now()
        )
        if changed != len(ids):  # cannot happen under the row locks; never audit a lie
            raise IllegalTransition("Rows changed while they were being retried; try again.")
        if not ids:
            return BulkRetryResult(count=0, ids=[], dry_run=False)
        before = {str(pk): {"status": st, "retry_count": rc} for pk, st, rc in locked}
        audit = _audit(
            "bulk_retry",
            ids,
            reason,
            actor,
            before,
            {"status": S.PENDING, "filter": _jsonable(filter)},
        )
        event_record(
            type=EventType.OPERATION,
            code="manual_bulk_retry",
            message=f"{actor.name} re-queued {len(ids)} instructions: {reason}",
            source=SOURCE,
            details={
                "actor": actor.name,
                "reason": reason,
                "count": len(ids),
                "filter": _jsonable(filter),
            },
        )
        rows = RenderInstruction.objects.filter(pk__in=ids)
        for row in rows:
            row_id = row.pk
            transaction.on_commit(lambda row_id=row_id: instruction_dispatch(instruction_id=row_id))
            publish_on_commit(
                "instruction_updated", {**instruction_live_data(row), "action": "bulk_retry"}
            )
    return BulkRetryResult(count=len(ids), ids=ids, dry_run=False, audit_id=audit.pk)


def _check_size(n: int) -> None:
    if n > MAX_BULK_ROWS:
        raise InvalidInput(
            f"The filter matches more than {MAX_BULK_ROWS} instructions; narrow it.",
            fields={"filter": [f"Matches more than {MAX_BULK_ROWS} rows."]},
        )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in values.items()
        if v not in (None, "")
    }
