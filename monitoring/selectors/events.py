"""Monitoring events as querysets: the event lists, the open alerts, the codes seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from automation_hub.models import MonitoringEvent, Severity


def event_list(
    *,
    severity: str | None = None,
    resolved: bool | None = None,
    code: str | None = None,
    simulated: bool | None = None,
) -> QuerySet[MonitoringEvent]:
    """Events newest first, optionally narrowed (the events page's filters; `simulated` None:
    live and simulated traffic alike)."""
    events = MonitoringEvent.objects.select_related("instruction", "hand").order_by(
        "-created_at", "-id"
    )
    if simulated is not None:
        events = events.filter(simulated=simulated)
    if severity:
        events = events.filter(severity=severity)
    if resolved is not None:
        events = events.filter(resolved=resolved)
    if code:
        events = events.filter(code=code)
    return events


def open_alerts(*, include_simulated: bool = False) -> QuerySet[MonitoringEvent]:
    """Unresolved events of warning severity and above (the partial index on open alerts),
    newest first (the model's ordering); those of simulated traffic only when asked for."""
    alerts = MonitoringEvent.objects.filter(
        resolved=False, severity__in=Severity.at_least(Severity.WARNING)
    )
    return alerts if include_simulated else alerts.filter(simulated=False)


@dataclass(frozen=True)
class AlertGroup:
    """The open alerts of one code: how many, the newest time, the worst severity and the
    newest few (the overview shows one row per code, expandable)."""

    code: str
    count: int
    newest_at: datetime
    severity: str
    events: tuple[MonitoringEvent, ...]

    @property
    def latest(self) -> MonitoringEvent:
        return self.events[0]


SEVERITY_RANK = {level: n for n, level in enumerate(Severity.values)}


def open_alert_groups(*, codes: int = 8, per_code: int = 5) -> list[AlertGroup]:
    """The open alerts grouped by code, the code with the newest alert first."""
    heads = (
        open_alerts()
        .values("code")
        .annotate(n=Count("id"), newest=Max("created_at"))
        .order_by("-newest")[:codes]
    )
    groups = []
    for head in heads:
        events = tuple(open_alerts().filter(code=head["code"]).select_related("hand")[:per_code])
        if not events:
            continue  # resolved between the two reads
        worst = max((e.severity for e in events), key=lambda s: SEVERITY_RANK.get(s, 0))
        groups.append(
            AlertGroup(head["code"], head["n"], head["newest"], worst, events)
        )
    return groups


def open_event_counts() -> dict[str, int]:
    """Unresolved events per severity (severities with none are absent)."""
    return dict(
        MonitoringEvent.objects.filter(resolved=False)
        .values_list("severity")
        .annotate(n=Count("*"))
        .order_by()
    )


def event_codes() -> list[str]:
    """Every event code stored, sorted (the events page's code filter)."""
    return list(MonitoringEvent.objects.values_list("code", flat=True).distinct().order_by("code"))
