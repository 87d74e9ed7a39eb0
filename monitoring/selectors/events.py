"""Monitoring events as querysets: the event lists, the open alerts, the codes seen."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from automation_hub.models import MonitoringEvent, Severity


def event_list(
    *, severity: str | None = None, resolved: bool | None = None, code: str | None = None
) -> QuerySet[MonitoringEvent]:
    """Events newest first, optionally narrowed (the events page's filters)."""
    events = MonitoringEvent.objects.select_related("instruction", "hand").order_by(
        "-created_at", "-id"
    )
    if severity:
        events = events.filter(severity=severity)
    if resolved is not None:
        events = events.filter(resolved=resolved)
    if code:
        events = events.filter(code=code)
    return events


def open_alerts() -> QuerySet[MonitoringEvent]:
    """Unresolved events of warning severity and above (the partial index on open alerts),
    newest first (the model's ordering)."""
    return MonitoringEvent.objects.filter(
        resolved=False, severity__in=Severity.at_least(Severity.WARNING)
    )


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
