"""The event journal: record an event, open one per condition (dedup), resolve them.

Every layer records here (the render queue, the monitor, people's actions). Warning-and-above
events reach the open dashboards (`alert`) and the notifiers (Slack / e-mail) once they commit,
whoever recorded them.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from automation_hub.errors import Conflict, NotFound
from automation_hub.live import publish_on_commit
from automation_hub.models import MonitoringEvent, Severity
from automation_hub.notifications import event_notify_later

ALERT_SEVERITIES = frozenset(Severity.at_least(Severity.WARNING))
AUTO_RESOLVER = "system"

_SIMULATED = contextvars.ContextVar("simulated_traffic", default=False)


@contextmanager
def simulated_traffic() -> Iterator[None]:
    """Every event recorded inside is marked `simulated` (`manage.py simulate`), so fabricated
    warnings never reach the live alert list unless asked for."""
    token = _SIMULATED.set(True)
    try:
        yield
    finally:
        _SIMULATED.reset(token)


def event_live_data(event: MonitoringEvent) -> dict[str, Any]:
    """The `alert` live event's data: enough for a dashboard row without another request."""
    return {
        "id": event.pk,
        "type": event.type,
        "code": event.code,
        "severity": event.severity,
        "source": event.source,
        "message": event.message,
        "instruction_id": event.instruction_id,
        "hand_id": event.hand_id,
        "details": event.details,
        "resolved": event.resolved,
        "resolved_by": event.resolved_by,
        "notes": event.notes,
        "simulated": event.simulated,
        "created_at": event.created_at.isoformat() if event.created_at else None,
    }


def _announce(event: MonitoringEvent, *, announce: bool = False) -> None:
    """Warning-and-above events (and `announce`d ones, e.g. a breaker closing again) reach the
    dashboards after commit; warning-and-above also reach the notifiers."""
    if announce or event.severity in ALERT_SEVERITIES or event.resolved:
        publish_on_commit("alert", event_live_data(event))
    if not event.resolved and not event.simulated:  # nobody is paged for fabricated traffic
        event_notify_later(event=event)


def event_record(
    *,
    type: str,
    code: str,
    message: str,
    source: str,
    severity: str = Severity.INFO,
    details: dict[str, Any] | None = None,
    instruction_id: int | None = None,
    hand_id: int | None = None,
    correlation_id: uuid.UUID | None = None,
    announce: bool = False,
) -> MonitoringEvent:
    """Store one event outside dedup (operations, remediations, the queue's own events) and
    announce it: live if it alerts (or `announce`), to the notifiers from warning up.

    An alert about an instruction that has the same alert open already (a retried job failing
    again) is not stored twice: the open one is returned.
    """
    if instruction_id is not None and severity in ALERT_SEVERITIES:
        twin = MonitoringEvent.objects.filter(
            instruction_id=instruction_id, code=code, resolved=False
        ).first()
        if twin is not None:
            return twin
    event = MonitoringEvent.objects.create(
        simulated=_SIMULATED.get(),
        type=type,
        code=code,
        severity=severity,
        source=source,
        message=message,
        details=details or {},
        instruction_id=instruction_id,
        hand_id=hand_id,
        correlation_id=correlation_id,
    )
    _announce(event, announce=announce)
    return event


def event_open(
    *,
    dedup_key: str,
    type: str,
    code: str,
    message: str,
    source: str,
    severity: str,
    details: dict[str, Any] | None = None,
    instruction_id: int | None = None,
    hand_id: int | None = None,
    correlation_id: uuid.UUID | None = None,
) -> tuple[MonitoringEvent, bool]:
    """Open the event for `dedup_key` unless one is already open; returns (event, created).

    The partial unique index (one unresolved row per dedup_key) settles races between two
    detector runs: the loser's INSERT fails and it returns the winner's row.
    """
    existing = MonitoringEvent.objects.filter(dedup_key=dedup_key, resolved=False).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            event = MonitoringEvent.objects.create(
                simulated=_SIMULATED.get(),
                dedup_key=dedup_key,
                type=type,
                code=code,
                severity=severity,
                source=source,
                message=message,
                details=details or {},
                instruction_id=instruction_id,
                hand_id=hand_id,
                correlation_id=correlation_id,
            )
    except IntegrityError:
        return MonitoringEvent.objects.get(dedup_key=dedup_key, resolved=False), False
    _announce(event)
    return event, True


def event_resolve(*, event_id: int, resolved_by: str, notes: str = "") -> MonitoringEvent:
    """Close an open event by hand. A second resolve is a 409, not a silent overwrite."""
    with transaction.atomic():
        closed = MonitoringEvent.objects.filter(pk=event_id, resolved=False).update(
            resolved=True, resolved_by=resolved_by, resolved_at=timezone.now(), notes=notes
        )
        event = MonitoringEvent.objects.filter(pk=event_id).first()
        if event is None:
            raise NotFound(f"Event {event_id} does not exist.")
        if not closed:
            raise Conflict(
                f"Event {event_id} was already resolved by {event.resolved_by or 'the system'}.",
                extra={"resolved_by": event.resolved_by},
            )
        publish_on_commit("alert", event_live_data(event))
    return event


def events_auto_resolve(*, dedup_keys: list[str] | set[str], note: str) -> int:
    """Close the open events of conditions that cleared; returns how many closed."""
    if not dedup_keys:
        return 0
    with transaction.atomic():
        rows = list(MonitoringEvent.objects.filter(dedup_key__in=list(dedup_keys), resolved=False))
        closed = MonitoringEvent.objects.filter(pk__in=[e.pk for e in rows], resolved=False).update(
            resolved=True, resolved_by="system", resolved_at=timezone.now(), notes=note
        )
        for event in rows:
            event.resolved, event.resolved_by, event.notes = True, "system", note
            publish_on_commit("alert", event_live_data(event))
    return closed


def events_resolve_for_instruction(*, instruction_id: int, why: str) -> int:
    """Close the open warning-and-above events of an instruction whose trouble is over (it
    completed), as an automatic resolution: resolved by "system" with `why`, announced live, and
    journaled as one `alerts_auto_resolved` event naming them. Runs in the caller's transaction;
    returns how many closed."""
    rows = list(
        MonitoringEvent.objects.filter(
            instruction_id=instruction_id, resolved=False, severity__in=ALERT_SEVERITIES
        )
    )
    if not rows:
        return 0
    now = timezone.now()
    closed = MonitoringEvent.objects.filter(pk__in=[e.pk for e in rows], resolved=False).update(
        resolved=True, resolved_by=AUTO_RESOLVER, resolved_at=now, notes=why
    )
    for event in rows:
        event.resolved, event.resolved_by, event.resolved_at, event.notes = (
            True, AUTO_RESOLVER, now, why,
        )  # fmt: skip
        publish_on_commit("alert", event_live_data(event))
    event_record(
        type="remediation",
        code="alerts_auto_resolved",
        message=f"{closed} open alert(s) of instruction {instruction_id} resolved: {why}",
        source="render_queue",
        details={"event_ids": [e.pk for e in rows], "codes": sorted({e.code for e in rows})},
        instruction_id=instruction_id,
        correlation_id=rows[0].correlation_id,
    )
    return closed
