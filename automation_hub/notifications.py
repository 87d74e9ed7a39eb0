"""Warning-and-above events to Slack and/or e-mail, off the detector's path.

`event_notify_later` only queues a django-q2 task after commit; the task (`event_notify`)
claims the event with a conditional UPDATE (so a task run twice sends once), applies the rate
limit (one notification per event code per MONITOR_NOTIFY_INTERVAL_SECONDS; the rest are
marked `rate_limited` and stay visible in the events API) and does the HTTP/SMTP work outside
any transaction.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation_hub.models import MonitoringEvent, Severity
from automation_hub.notifiers import NotifyError, email_send, slack_post

logger = logging.getLogger(__name__)

NOTIFY_SEVERITIES = frozenset(Severity.at_least(Severity.WARNING))


def notifications_configured() -> bool:
    return bool(settings.SLACK_WEBHOOK_URL or settings.ALERT_EMAILS)


def _enqueue(event_id: int) -> None:
    from automation_hub.schedules import ops_async_task

    try:
        ops_async_task(
            "automation_hub.tasks.notify_event", event_id, task_name=f"notify-{event_id}"
        )
    except Exception:  # a broker outage must not break whoever raised the event
        logger.exception("notification of event %s not queued", event_id)


def event_notify_later(*, event: MonitoringEvent) -> None:
    if event.severity in NOTIFY_SEVERITIES and notifications_configured():
        event_id = event.pk
        transaction.on_commit(lambda: _enqueue(event_id))


def _text(event: MonitoringEvent) -> str:
    return f"[{event.severity.upper()}] {event.code}: {event.message}"


def _subject(event: MonitoringEvent) -> str:
    """One line: an event's message can carry a proxy's multi-line error page, and a header
    with a line break in it makes the whole send fail (BadHeaderError)."""
    return " ".join(f"[WSOP hub] {_text(event)}".split())[:140]


def event_notify(*, event_id: int) -> str:
    """Send one event's notification. Returns what happened: sent, failed, rate_limited,
    already, below_threshold, not_configured."""
    if not notifications_configured():
        return "not_configured"
    event = MonitoringEvent.objects.filter(pk=event_id).first()
    if event is None or event.severity not in NOTIFY_SEVERITIES:
        return "below_threshold"
    now = timezone.now()
    recent = MonitoringEvent.objects.filter(
        code=event.code,
        notification="sent",
        notified_at__gte=now - timedelta(seconds=settings.MONITOR_NOTIFY_INTERVAL_SECONDS),
    ).exclude(pk=event_id)
    outcome = "rate_limited" if recent.exists() else "sending"
    claimed = MonitoringEvent.objects.filter(pk=event_id, notified_at__isnull=True).update(
        notified_at=now, notification=outcome
    )
    if not claimed:
        return "already"
    if outcome == "rate_limited":
        return outcome
    errors = _deliver(event)
    outcome = "failed" if errors else "sent"
    MonitoringEvent.objects.filter(pk=event_id).update(notification=outcome)
    for error in errors:
        logger.warning("event %s: %s", event_id, error)
    return outcome


def _deliver(event: MonitoringEvent) -> list[str]:
    errors: list[str] = []
    timeout = settings.MONITOR_NOTIFY_TIMEOUT_SECONDS
    if settings.SLACK_WEBHOOK_URL:
        try:
            slack_post(url=settings.SLACK_WEBHOOK_URL, text=_text(event), timeout=timeout)
        except NotifyError as exc:
            errors.append(str(exc))
    if settings.ALERT_EMAILS:
        try:
            email_send(
                recipients=list(settings.ALERT_EMAILS),
                subject=_subject(event),
                body=f"{_text(event)}\n\nEvent {event.pk} at {event.created_at.isoformat()}\n"
                f"Details: {event.details}",
            )
        except NotifyError as exc:
            errors.append(str(exc))
    return errors
