"""Anomaly detectors (SPEC §4), run every minute by the django-q2 schedule.

Each detector computes the set of conditions that hold now, each named by a dedup key
`<code>:<subject>`. A condition that holds and has no open event opens one (the partial unique
index keeps it single even when two runs race); an open event whose condition no longer holds
closes itself with a note. Running twice in a row changes nothing the second time.

Automatic decisions (creating an orphan hand's instruction, raising a waiting job's priority,
re-queuing a failed job the sweep left behind) are REMEDIATION events, and each can be undone
by hand through the override actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from automation_hub.journal import event_open, event_record, events_auto_resolve
from automation_hub.models import EventType, MonitoringEvent, Severity
from hands.models import Hand
from monitoring.models import BlockStatus
from monitoring.selectors.health import delayed_instructions, orphan_hands
from monitoring.selectors.metrics import completions_between, error_rate_between
from monitoring.services.orchestrator import block_touch
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.premium import premium_instruction_create
from rendering.services.transitions.decisions import (
    instruction_auto_retry,
    instruction_raise_priority,
)
from rendering.services.transitions.table import MONITOR

logger = logging.getLogger(__name__)

SOURCE = "monitor"
MAX_SUBJECTS = 500  # per detector and run: a flood is one page, not a thousand writes

DELAYED = "delayed_instruction"
ORPHAN = "orphan_hand"
ERROR_SPIKE = "error_rate_spike"
THROUGHPUT_DROP = "throughput_drop"
DETECTOR_CODES = (DELAYED, ORPHAN, ERROR_SPIKE, THROUGHPUT_DROP)


@dataclass
class Finding:
    """One condition that holds now."""

    dedup_key: str
    code: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    instruction_id: int | None = None
    hand_id: int | None = None
    correlation_id: Any = None


@dataclass
class RunReport:
    opened: dict[str, int] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    remediations: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "resolved": self.resolved,
            "remediations": self.remediations,
        }


# --------------------------------------------------------------------------------------------------
# The four conditions
# --------------------------------------------------------------------------------------------------


def find_delayed(*, now: datetime) -> list[Finding]:
    minutes = settings.MONITOR_DELAYED_PENDING_MINUTES
    rows = delayed_instructions(now=now).order_by("created_at")[:MAX_SUBJECTS]
    return [
        Finding(
            dedup_key=f"{DELAYED}:{row.pk}",
            code=DELAYED,
            severity=Severity.WARNING,
            message=(
                f"Instruction {row.pk} ({row.template_name}) has been pending for "
                f"{int((now - row.created_at).total_seconds() // 60)} min (limit {minutes} min)."
            ),
            details={"priority": row.priority, "created_at": row.created_at.isoformat()},
            instruction_id=row.pk,
            hand_id=row.hand_id,
            correlation_id=row.correlation_id,
        )
        for row in rows
    ]


def find_orphans(*, now: datetime) -> list[Finding]:
    hands = orphan_hands(now=now).order_by("created_at")[:MAX_SUBJECTS]
    return [
        Finding(
            dedup_key=f"{ORPHAN}:{hand.pk}",
            code=ORPHAN,
            severity=Severity.WARNING,
            message=(
                f"Premium hand {hand.table_id} #{hand.hand_number} ({hand.hand_rank}) has no "
                f"render instruction {int((now - hand.created_at).total_seconds())} s after it "
                "arrived."
            ),
            details={"table_id": hand.table_id, "hand_number": hand.hand_number},
            hand_id=hand.pk,
            correlation_id=hand.correlation_id,
        )
        for hand in hands
    ]


def find_error_spike(*, now: datetime) -> list[Finding]:
    """Failed share of the last hour's finished jobs above the threshold, on enough jobs."""
    failed, finished = error_rate_between(now - timedelta(hours=1), now)
    threshold = settings.MONITOR_ERROR_RATE_THRESHOLD
    if finished < settings.MONITOR_ERROR_RATE_MIN_SAMPLE or failed / finished <= threshold:
        return []
    return [
        Finding(
            dedup_key=f"{ERROR_SPIKE}:all",
            code=ERROR_SPIKE,
            severity=Severity.ERROR,
            message=(
                f"{failed} of {finished} render jobs failed in the last hour "
                f"({failed / finished:.0%}, threshold {threshold:.0%})."
            ),
            details={"failed": failed, "finished": finished, "threshold": threshold},
        )
    ]


def find_throughput_drop(*, now: datetime) -> list[Finding]:
    """This hour's completions below ratio times the previous hour's, on enough volume."""
    hour = timedelta(hours=1)
    current = completions_between(now - hour, now)
    previous = completions_between(now - 2 * hour, now - hour)
    ratio = settings.MONITOR_THROUGHPUT_DROP_RATIO
    if previous < settings.MONITOR_THROUGHPUT_MIN_VOLUME or current >= ratio * previous:
        return []
    return [
        Finding(
            dedup_key=f"{THROUGHPUT_DROP}:all",
            code=THROUGHPUT_DROP,
            severity=Severity.WARNING,
            message=(
                f"{current} renders completed in the last hour against {previous} the hour "
                f"before (below {ratio:.0%})."
            ),
            details={"current": current, "previous": previous, "ratio": ratio},
        )
    ]


FINDERS: dict[str, Callable[..., list[Finding]]] = {
    DELAYED: find_delayed,
    ORPHAN: find_orphans,
    ERROR_SPIKE: find_error_spike,
    THROUGHPUT_DROP: find_throughput_drop,
}


# --------------------------------------------------------------------------------------------------
# Opening, closing, remediating
# --------------------------------------------------------------------------------------------------


def _open(finding: Finding) -> tuple[MonitoringEvent, bool]:
    return event_open(
        dedup_key=finding.dedup_key,
        type=EventType.ANOMALY,
        code=finding.code,
        message=finding.message,
        source=SOURCE,
        severity=finding.severity,
        details=finding.details,
        instruction_id=finding.instruction_id,
        hand_id=finding.hand_id,
        correlation_id=finding.correlation_id,
    )


def _clear_note(code: str, dedup_key: str) -> str:
    subject = dedup_key.split(":", 1)[1]
    if code == DELAYED:
        row = RenderInstruction.objects.filter(pk=subject).only("status").first()
        return f"Cleared: instruction {subject} is {row.status if row else 'gone'}."
    if code == ORPHAN:
        return f"Cleared: hand {subject} has its render instruction."
    return "Cleared: back within the threshold."


def _close_cleared(code: str, holding: set[str]) -> int:
    open_keys = set(
        MonitoringEvent.objects.filter(
            code=code, resolved=False, dedup_key__isnull=False
        ).values_list("dedup_key", flat=True)
    )
    closed = 0
    for key in open_keys - holding:
        closed += events_auto_resolve(dedup_keys=[key], note=_clear_note(code, key))
    return closed


def _remediate_delayed(event: MonitoringEvent) -> bool:
    """Raise a long-waiting job's priority one step, once per episode (the newly opened event).
    The transition leaves it alone if a worker took it meanwhile."""
    raised = instruction_raise_priority(
        instruction_id=event.instruction_id,
        reason=f"pending longer than {settings.MONITOR_DELAYED_PENDING_MINUTES} min",
        details={"anomaly_event": event.pk},
    )
    return raised is not None


def _remediate_orphan(event: MonitoringEvent) -> bool:
    """Create the orphan hand's instruction (idempotent by the hand's key) when configured."""
    if not settings.MONITOR_ORPHAN_AUTO_CREATE:
        return False
    hand = Hand.objects.get(pk=event.hand_id)
    instruction = premium_instruction_create(hand=hand, created_by="monitor")
    event_record(
        type=EventType.REMEDIATION,
        code="orphan_instruction_created",
        message=f"Created instruction {instruction.pk} for orphan hand {hand.pk}.",
        source=SOURCE,
        details={"anomaly_event": event.pk},
        instruction_id=instruction.pk,
        hand_id=hand.pk,
        correlation_id=hand.correlation_id,
    )
    events_auto_resolve(
        dedup_keys=[event.dedup_key],
        note=f"Resolved automatically: instruction {instruction.pk} created.",
    )
    return True


REMEDIES: dict[str, Callable[[MonitoringEvent], bool]] = {
    DELAYED: _remediate_delayed,
    ORPHAN: _remediate_orphan,
}


def _try_remedy(code: str, event: MonitoringEvent) -> bool:
    """A failed remedy leaves the anomaly open (it is the alert then) and never stops the run."""
    remedy = REMEDIES.get(code)
    if remedy is None:
        return False
    try:
        with transaction.atomic():
            return remedy(event)
    except Exception:
        logger.exception("remedy for %s failed", event.dedup_key)
        return False


def requeue_overdue_failures(*, now: datetime) -> int:
    """FAILED jobs with retries left whose backoff ran out long ago (the queue's sweep did not
    pick them up): re-queue them through the queue's one automatic retry, spending one retry."""
    overdue = now - timedelta(minutes=settings.MONITOR_DELAYED_PENDING_MINUTES)
    ids = list(
        RenderInstruction.objects.filter(
            status=InstructionStatus.FAILED,
            retry_count__lt=F("max_retries"),
            next_attempt_at__isnull=False,
            next_attempt_at__lte=overdue,
        ).values_list("pk", flat=True)[:MAX_SUBJECTS]
    )
    done = 0
    for pk in ids:
        # Conditional on FAILED, retries left and backoff over: the sweep or an operator
        # getting there first makes this a no-op (None).
        retried = instruction_auto_retry(
            instruction_id=pk, due_by=overdue, actor=MONITOR, why="its backoff ended long ago"
        )
        done += retried is not None
    return done


def monitor_run(
    *, now: datetime | None = None, codes: tuple[str, ...] = DETECTOR_CODES
) -> RunReport:
    """One pass of every detector. Safe to run twice, or in two processes at once."""
    now = now or timezone.now()
    report = RunReport()
    for code in codes:
        findings = FINDERS[code](now=now)
        opened = 0
        for finding in findings:
            with transaction.atomic():
                event, created = _open(finding)
                if created:
                    opened += 1
                    if _try_remedy(code, event):
                        report.remediations += 1
        report.opened[code] = opened
        report.resolved[code] = _close_cleared(code, {f.dedup_key for f in findings})
    report.remediations += requeue_overdue_failures(now=now)
    block_touch(
        name="monitor",
        status=BlockStatus.COMPLETED,
        items_processed=sum(report.opened.values()) + sum(report.resolved.values()),
        items_total=len(codes),
        error="",
    )
    return report
