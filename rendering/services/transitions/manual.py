"""People's transitions (manual override): retry, cancel, change priority, bulk retry.

Every one takes a reason, is refused with the reason why when the row is in a state it cannot
start from (IllegalTransition → 409), and is audited, announced live and recorded as an
`operation` event. The API, the pages, the admin and the `bulk_retry` command all call these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from automation_hub.errors import IllegalTransition, InvalidInput, NotFound
from automation_hub.journal import event_record
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services import dispatch as wakeups
from rendering.services.instructions import output_settings_with_defaults
from rendering.services.transitions.table import (
    BULK_RETRY,
    CANCEL,
    CHANGE_PRIORITY,
    CLAIM_RESET,
    EDIT_RETRY,
    RETRY,
    Actor,
    Transition,
    audit_record,
    snapshot,
    transition_apply,
    transition_record,
)

_WHY_NOT = {
    RETRY.name: {
        "pending": "it is already pending in the queue",
        "processing": "a worker is rendering it; cancel it first",
        "completed": "it is completed and has its output; create a new instruction to re-render",
    },
    EDIT_RETRY.name: {
        "processing": "a worker is rendering it; cancel it first",
        "completed": "it is completed and has its output; create a new instruction to re-render",
    },
    CANCEL.name: {
        "completed": "it is already completed",
        "cancelled": "it is already cancelled",
    },
    CHANGE_PRIORITY.name: {
        "completed": "it is completed; priority no longer matters",
        "cancelled": "it is cancelled; priority no longer matters",
    },
}

MAX_BULK_ROWS = 5000


@dataclass
class BulkRetryResult:
    count: int
    ids: list[int]
    dry_run: bool
    audit_id: int | None = None
    skipped: list[int] = field(default_factory=list)


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["This field is required."]})
    return reason


def why_not(t: Transition, status: str) -> str:
    """Why `t` cannot start from `status`, in words an operator understands."""
    return _WHY_NOT.get(t.name, {}).get(status, f"it is {status}")


# The actions an instruction's page offers, by the name its buttons use.
PAGE_ACTIONS = {
    "retry": RETRY,
    "edit-retry": EDIT_RETRY,
    "change-priority": CHANGE_PRIORITY,
    "cancel": CANCEL,
}


def page_action_rules() -> dict[str, dict[str, Any]]:
    """For each page action: the states it may start from and, for every other state, why not
    (the page disables its button with that tooltip, and keeps it in step with live updates)."""
    return {
        name: {
            "sources": [str(s) for s in t.sources],
            "why_not": {
                str(s): f"Not possible: {why_not(t, s)}."
                for s in InstructionStatus.values
                if s not in t.sources
            },
        }
        for name, t in PAGE_ACTIONS.items()
    }


def _refuse(t: Transition, instruction_id: int) -> None:
    current = RenderInstruction.objects.filter(pk=instruction_id).first()
    if current is None:
        raise NotFound(f"Instruction {instruction_id} does not exist.")
    raise IllegalTransition(
        f"Cannot {t.name.replace('_', ' ')} instruction {instruction_id}: "
        f"{why_not(t, current.status)}.",
        extra={"status": current.status},
    )


def _manual(
    t: Transition,
    *,
    instruction_id: int,
    changes: dict[str, Any],
    reason: str,
    actor: Actor,
    verb: str,
    dispatch: bool = False,
) -> RenderInstruction:
    reason = require_reason(reason)
    row = transition_apply(
        t,
        instruction_id=instruction_id,
        changes=changes,
        actor=actor,
        reason=reason,
        message=f"{actor.name} {verb} instruction {instruction_id}: {reason}",
        dispatch=dispatch,
    )
    if row is None:
        _refuse(t, instruction_id)
    assert row is not None
    return row


def _retry_changes() -> dict[str, Any]:
    # An operator's retry grants a fresh automatic-retry budget: the job spent its budget
    # already, and a person decided it deserves another round.
    return {
        "status": RETRY.target,
        "retry_count": 0,
        "error_message": "",
        "next_attempt_at": None,
        "started_at": None,
        "completed_at": None,
        **CLAIM_RESET,
    }


def instruction_manual_retry(
    *, instruction_id: int, reason: str, actor: Actor
) -> RenderInstruction:
    """FAILED / STALE / CANCELLED → PENDING; the workers are woken after commit."""
    return _manual(
        RETRY,
        instruction_id=instruction_id,
        changes=_retry_changes(),
        reason=reason,
        actor=actor,
        verb="re-queued",
        dispatch=True,
    )


def instruction_edit_retry(
    *,
    instruction_id: int,
    reason: str,
    actor: Actor,
    layer_data: dict[str, Any] | None = None,
    output_settings: dict[str, Any] | None = None,
) -> RenderInstruction:
    """PENDING / FAILED / STALE / CANCELLED → PENDING with new layer data and/or output settings
    (None: kept), a fresh retry budget and no error; audited before → after, workers woken after
    commit. The caller has validated the values as a new instruction's (the API's
    `InstructionChangesInput`); nothing is written when the row is in another state."""
    changes: dict[str, Any] = _retry_changes()
    if layer_data is not None:
        changes["layer_data"] = layer_data
    if output_settings is not None:
        changes["output_settings"] = output_settings_with_defaults(output_settings)
    if len(changes) == len(_retry_changes()):
        raise InvalidInput(
            "Nothing to change.",
            fields={"non_field_errors": ["Send layer_data or output_settings."]},
        )
    # New settings make a new job: the backend's job under the old identity (still queued, or
    # finished with the old settings) is never adopted; the Nexrender follower deletes it from
    # the server as replaced.
    changes["external_id"] = ""
    return _manual(
        EDIT_RETRY,
        instruction_id=instruction_id,
        changes=changes,
        reason=reason,
        actor=actor,
        verb="edited and re-queued",
        dispatch=True,
    )


def instruction_cancel(*, instruction_id: int, reason: str, actor: Actor) -> RenderInstruction:
    """PENDING / PROCESSING / FAILED / STALE → CANCELLED. A worker still rendering it loses its
    lease, so its completion or failure report is refused."""
    return _manual(
        CANCEL,
        instruction_id=instruction_id,
        changes={"status": CANCEL.target, "next_attempt_at": None, **CLAIM_RESET},
        reason=reason,
        actor=actor,
        verb="cancelled",
    )


def instruction_change_priority(
    *, instruction_id: int, priority: int, reason: str, actor: Actor
) -> RenderInstruction:
    """Set priority 1 (highest) … 10 of a job that is not finished."""
    if not isinstance(priority, int) or not 1 <= priority <= 10:
        raise InvalidInput(
            "Priority must be 1 … 10.", fields={"priority": ["Must be an integer from 1 to 10."]}
        )
    return _manual(
        CHANGE_PRIORITY,
        instruction_id=instruction_id,
        changes={"priority": priority},
        reason=reason,
        actor=actor,
        verb=f"set priority {priority} on",
    )


def bulk_retry_queryset(
    *,
    status: str = "failed",
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    template_name: str = "",
    trigger_type: str = "",
) -> QuerySet[RenderInstruction]:
    """The rows a bulk retry with this filter would re-queue, oldest first."""
    if status not in BULK_RETRY.sources:
        raise InvalidInput(
            f"Bulk retry takes {', '.join(BULK_RETRY.sources)} rows, not {status}.",
            fields={"filter.status": [f"Choose one of: {', '.join(BULK_RETRY.sources)}."]},
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
    or another operator holds right now), moved to PENDING with one UPDATE and audited one entry
    per row; one `manual_bulk_retry` event names the count.
    """
    reason = require_reason(reason)
    queryset = bulk_retry_queryset(**filter)
    if dry_run:
        ids = list(queryset.values_list("pk", flat=True)[: MAX_BULK_ROWS + 1])
        _check_size(len(ids))
        return BulkRetryResult(count=len(ids), ids=ids, dry_run=True)
    with transaction.atomic():
        before = list(queryset.select_for_update(skip_locked=True)[: MAX_BULK_ROWS + 1])
        _check_size(len(before))
        ids = [row.pk for row in before]
        changed = RenderInstruction.objects.filter(
            pk__in=ids, status__in=BULK_RETRY.sources
        ).update(**_retry_changes(), updated_at=timezone.now())
        if changed != len(ids):  # cannot happen under the row locks; never audit a lie
            raise IllegalTransition("Rows changed while they were being retried; try again.")
        if not ids:
            return BulkRetryResult(count=0, ids=[], dry_run=False)
        after = {row.pk: row for row in RenderInstruction.objects.filter(pk__in=ids)}
        pairs = [(snapshot(row), after[row.pk]) for row in before]
        entries = audit_record(
            BULK_RETRY,
            rows=pairs,
            actor=actor,
            reason=reason,
            details={"filter": _jsonable(filter)},
        )
        event_record(
            type=BULK_RETRY.event_type,
            code=BULK_RETRY.event,
            message=f"{actor.name} re-queued {len(ids)} instructions: {reason}",
            source=actor.block,
            details={
                "actor": actor.name,
                "reason": reason,
                "count": len(ids),
                "filter": _jsonable(filter),
            },
        )
        for row in after.values():
            transition_record(
                BULK_RETRY, before=None, after=row, actor=actor, reason=reason, journal=False
            )
            transaction.on_commit(lambda pk=row.pk: wakeups.instruction_dispatch(instruction_id=pk))
    return BulkRetryResult(count=len(ids), ids=ids, dry_run=False, audit_id=entries[0].pk)


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
