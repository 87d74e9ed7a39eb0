"""Each detector: fires on its condition, stays silent just under the threshold and below the
minimum sample, never duplicates an open event, and closes it when the condition clears."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation_hub.models import MonitoringEvent
from monitoring.services.detectors import monitor_run
from rendering.models import RenderInstruction
from tests.monitoring.helpers import make_hand, make_instruction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.MONITOR_DELAYED_PENDING_MINUTES = 30
    settings.MONITOR_ORPHAN_GRACE_SECONDS = 120
    settings.MONITOR_ORPHAN_AUTO_CREATE = False
    settings.MONITOR_ERROR_RATE_THRESHOLD = 0.10
    settings.MONITOR_ERROR_RATE_MIN_SAMPLE = 20
    settings.MONITOR_THROUGHPUT_DROP_RATIO = 0.5
    settings.MONITOR_THROUGHPUT_MIN_VOLUME = 20


def open_events(code: str):
    return list(MonitoringEvent.objects.filter(code=code, resolved=False))


def finished(status: str, *, minutes_ago: float, n: int = 1) -> None:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    for _ in range(n):
        make_instruction(
            status=status, created_at=moment - timedelta(seconds=30), finished_at=moment
        )


# --- delayed


def test_it_flags_a_job_pending_past_the_limit_once_and_raises_its_priority(
    live_events, django_capture_on_commit_callbacks
):
    row = make_instruction(status="pending", priority=5, age=timedelta(minutes=31))

    with django_capture_on_commit_callbacks(execute=True):
        first = monitor_run()
    second = monitor_run()

    (event,) = open_events("delayed_instruction")
    assert event.instruction_id == row.pk
    assert event.severity == "warning"
    assert first.opened["delayed_instruction"] == 1
    assert second.opened["delayed_instruction"] == 0
    row.refresh_from_db()
    assert row.priority == 4  # raised once, not once per run
    remediation = MonitoringEvent.objects.get(code="priority_raised")
    assert remediation.type == "remediation"
    assert remediation.instruction_id == row.pk
    assert [a["code"] for a in live_events.of_type("alert")] == ["delayed_instruction"]


def test_it_leaves_a_job_pending_just_under_the_limit_alone():
    row = make_instruction(status="pending", priority=5, age=timedelta(minutes=29, seconds=50))

    monitor_run()

    assert open_events("delayed_instruction") == []
    row.refresh_from_db()
    assert row.priority == 5


def test_it_closes_the_delayed_event_with_a_note_once_the_job_is_picked_up():
    row = make_instruction(status="pending", age=timedelta(minutes=45))
    monitor_run()
    RenderInstruction.objects.filter(pk=row.pk).update(status="processing")

    report = monitor_run()

    event = MonitoringEvent.objects.get(code="delayed_instruction")
    assert event.resolved is True
    assert event.resolved_by == "system"
    assert event.notes == f"Cleared: instruction {row.pk} is processing."
    assert report.resolved["delayed_instruction"] == 1


def test_it_opens_a_new_event_when_the_condition_comes_back_after_closing():
    row = make_instruction(status="pending", age=timedelta(minutes=45))
    monitor_run()
    RenderInstruction.objects.filter(pk=row.pk).update(status="processing")
    monitor_run()
    RenderInstruction.objects.filter(pk=row.pk).update(status="pending")

    monitor_run()

    assert MonitoringEvent.objects.filter(code="delayed_instruction").count() == 2
    assert len(open_events("delayed_instruction")) == 1


# --- orphan premium hands


def test_it_alerts_on_a_premium_hand_without_instruction_after_the_grace_period():
    hand = make_hand(premium=True, age=timedelta(seconds=130))
    make_hand(premium=True, age=timedelta(seconds=110))  # still in its grace period
    make_hand(premium=False, age=timedelta(minutes=10))  # not premium: no graphic due

    monitor_run()
    monitor_run()

    (event,) = open_events("orphan_hand")
    assert event.hand_id == hand.pk
    assert event.correlation_id == hand.correlation_id
    assert not RenderInstruction.objects.exists()


def test_it_creates_the_missing_instruction_when_configured(
    settings, django_capture_on_commit_callbacks
):
    settings.MONITOR_ORPHAN_AUTO_CREATE = True
    hand = make_hand(premium=True, age=timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        monitor_run()
    monitor_run()

    instruction = RenderInstruction.objects.get(hand=hand)
    assert instruction.trigger_type == "premium_hand"
    assert instruction.created_by == "monitor"
    assert instruction.correlation_id == hand.correlation_id
    anomaly = MonitoringEvent.objects.get(code="orphan_hand")
    assert anomaly.resolved is True
    assert f"instruction {instruction.pk} created" in anomaly.notes
    fix = MonitoringEvent.objects.get(code="orphan_instruction_created")
    assert fix.type == "remediation"


def test_it_closes_the_orphan_alert_when_the_hand_gets_its_instruction():
    hand = make_hand(premium=True, age=timedelta(minutes=5))
    monitor_run()
    make_instruction(hand=hand)

    monitor_run()

    event = MonitoringEvent.objects.get(code="orphan_hand")
    assert event.resolved is True
    assert "has its render instruction" in event.notes


# --- error-rate spike


def test_it_alerts_on_an_error_rate_spike_over_enough_jobs(
    live_events, django_capture_on_commit_callbacks
):
    finished("completed", minutes_ago=10, n=17)
    finished("failed", minutes_ago=10, n=3)  # 15 % of 20

    with django_capture_on_commit_callbacks(execute=True):
        monitor_run()
    monitor_run()

    (event,) = open_events("error_rate_spike")
    assert event.severity == "error"
    assert event.details == {"failed": 3, "finished": 20, "threshold": 0.1}
    assert [a["code"] for a in live_events.of_type("alert")] == ["error_rate_spike"]


def test_it_stays_silent_at_the_error_rate_threshold():
    finished("completed", minutes_ago=10, n=18)
    finished("failed", minutes_ago=10, n=2)  # exactly 10 %

    monitor_run()

    assert open_events("error_rate_spike") == []


def test_it_stays_silent_below_the_minimum_sample():
    finished("completed", minutes_ago=10, n=9)
    finished("failed", minutes_ago=10, n=10)  # 53 % but of 19 jobs

    monitor_run()

    assert open_events("error_rate_spike") == []


def test_it_ignores_failures_older_than_the_hour():
    finished("completed", minutes_ago=10, n=20)
    finished("failed", minutes_ago=70, n=10)

    monitor_run()

    assert open_events("error_rate_spike") == []


def test_it_closes_the_error_spike_once_the_rate_recovers():
    finished("completed", minutes_ago=10, n=17)
    finished("failed", minutes_ago=10, n=3)
    monitor_run()
    finished("completed", minutes_ago=1, n=20)  # 3 of 40

    monitor_run()

    event = MonitoringEvent.objects.get(code="error_rate_spike")
    assert event.resolved is True
    assert event.notes.startswith("Cleared")


# --- throughput drop


def test_it_warns_when_this_hours_throughput_halves():
    finished("completed", minutes_ago=90, n=20)
    finished("completed", minutes_ago=10, n=9)

    monitor_run()
    monitor_run()

    (event,) = open_events("throughput_drop")
    assert event.details == {"current": 9, "previous": 20, "ratio": 0.5}


def test_it_stays_silent_at_exactly_half_the_previous_hour():
    finished("completed", minutes_ago=90, n=20)
    finished("completed", minutes_ago=10, n=10)

    monitor_run()

    assert open_events("throughput_drop") == []


def test_it_stays_silent_below_the_minimum_volume():
    finished("completed", minutes_ago=90, n=19)

    monitor_run()

    assert open_events("throughput_drop") == []


def test_it_closes_the_throughput_drop_once_renders_pick_up():
    finished("completed", minutes_ago=90, n=20)
    finished("completed", minutes_ago=10, n=5)
    monitor_run()
    finished("completed", minutes_ago=1, n=10)

    monitor_run()

    assert MonitoringEvent.objects.get(code="throughput_drop").resolved is True


# --- automatic retry and the schedule


def test_it_requeues_a_failed_job_whose_backoff_ended_long_ago(
    dispatched_by_monitor, django_capture_on_commit_callbacks
):
    row = make_instruction(status="failed", retry_count=1, max_retries=3)
    RenderInstruction.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=31)
    )
    spent = make_instruction(status="failed", retry_count=3, max_retries=3)
    RenderInstruction.objects.filter(pk=spent.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=31)
    )

    with django_capture_on_commit_callbacks(execute=True):
        monitor_run()
    monitor_run()

    row.refresh_from_db()
    spent.refresh_from_db()
    assert (row.status, row.retry_count) == ("pending", 2)
    assert spent.status == "failed"
    # The queue's one automatic retry, recorded under its one code, decided by the monitor.
    (event,) = MonitoringEvent.objects.filter(code="job_auto_retried", instruction=row)
    assert event.source == "monitor"
    (audit,) = row.audit_entries.all()
    assert (audit.action, audit.actor_name, audit.via) == ("auto_retry", "monitor", "system")
    assert dispatched_by_monitor == [row.pk]


def test_it_schedules_the_detectors_every_minute_through_a_migration():
    from django_q.models import Schedule

    (schedule,) = Schedule.objects.filter(func="monitoring.tasks.run_detectors")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)


def test_it_runs_the_scheduled_task_body():
    from monitoring.tasks import run_detectors

    make_instruction(status="pending", age=timedelta(hours=1))

    assert run_detectors()["opened"]["delayed_instruction"] == 1
