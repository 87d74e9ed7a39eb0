"""The per-minute metrics rollup: what it rolls up, that reads through it give the figures a
computation from scratch gives, and what happens to rows that change after their minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from itertools import pairwise

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.api.prometheus import prometheus_text
from monitoring.models import MetricHour, MetricMinute, MetricRollupState
from monitoring.selectors.charts import metric_series
from monitoring.selectors.dashboard import dashboard_summary
from monitoring.selectors.health import completion_rate, orphan_hands
from monitoring.selectors.metrics import (
    completions_between,
    error_rate_between,
    metrics_error_rate,
    metrics_latency,
    metrics_throughput,
)
from monitoring.selectors.orchestrator import orchestrator_blocks
from monitoring.selectors.rollup import (
    facts_from_rows_by_minute,
    hour_ceil,
    hour_floor,
    minute_floor,
)
from monitoring.selectors.windows import WINDOWS, window_get
from monitoring.services.rollup import (
    ROLLUP_SCHEDULE,
    metrics_rollup_rebuild,
    metrics_rollup_run,
    rollup_schedule_ensure,
)
from rendering.models import RenderInstruction
from rendering.services.transitions.lease import instruction_claim_next, instruction_complete
from tests.monitoring.helpers import make_hand, make_instruction, make_output

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _rollup_settings(settings) -> None:
    settings.MONITOR_ROLLUP_SETTLE_SECONDS = 120
    settings.MONITOR_ROLLUP_RETENTION_HOURS = 48
    settings.MONITOR_ORPHAN_GRACE_SECONDS = 120


def completed(now: datetime, ago: timedelta, took: timedelta, **fields):
    return make_instruction(
        status="completed", created_at=now - ago - took, finished_at=now - ago, **fields
    )


def failed(now: datetime, ago: timedelta, **fields):
    return make_instruction(
        status="failed",
        created_at=now - ago - timedelta(seconds=30),
        finished_at=now - ago,
        **fields,
    )


def broadcast_day(now: datetime) -> None:
    """A day of traffic with something at every edge: the live tail, the settle delay, the
    start of each window, whole hours, rows of every status, orphan and covered hands."""
    agos = [20, 70, 100, 150, 400, 899, 901, 3599, 3601, 7300, 43_000, 86_390, 86_410, 90_000]
    for i, seconds in enumerate(agos):
        ago = timedelta(seconds=seconds)
        hand = make_hand(premium=i % 3 == 0, age=ago + timedelta(seconds=5))
        done = completed(now, ago, timedelta(seconds=[0, 0.4, 3, 12, 95, 4000][i % 6]), hand=hand)
        make_output(done)
        failed(now, ago + timedelta(seconds=7))
        make_instruction(status="pending", created_at=now - ago)
        make_instruction(status="cancelled", created_at=now - ago - timedelta(seconds=3))
    make_instruction(status="processing", claimed_by="w1", heartbeat_at=now)
    make_hand(premium=True, age=timedelta(hours=5))  # an orphan: no instruction
    make_hand(premium=False, age=timedelta(hours=2))


def figures(now: datetime) -> dict:
    """Every figure the monitoring APIs and pages serve, at `now`."""
    windows = WINDOWS.values()
    return {
        "dashboard": dashboard_summary(now=now),
        "throughput": [metrics_throughput(window=w, now=now) for w in windows],
        "latency": [metrics_latency(window=w, now=now) for w in windows],
        "error_rate": [metrics_error_rate(window=w, now=now) for w in windows],
        "orchestrator": orchestrator_blocks(now=now),
        "page_series": metric_series(now=now),
        "detector_inputs": [
            completions_between(now - timedelta(hours=2), now - timedelta(hours=1)),
            error_rate_between(now - timedelta(hours=1), now),
            sorted(h.pk for h in orphan_hands(now=now)),
        ],
    }


def from_scratch(now: datetime) -> dict:
    """The same figures with the rollup set aside: every count from the base rows."""
    state = MetricRollupState.objects.filter(pk=1).first()
    MetricRollupState.objects.filter(pk=1).delete()
    try:
        return figures(now)
    finally:
        if state is not None:
            state.save(force_insert=True)


# --------------------------------------------------------------------------------------------------
# Rolling up
# --------------------------------------------------------------------------------------------------


def test_it_rolls_up_every_closed_minute_past_the_settle_delay_and_no_later_one():
    now = timezone.now()
    broadcast_day(now)

    report = metrics_rollup_run(now=now)

    edge = minute_floor(now - timedelta(seconds=120))
    state = MetricRollupState.objects.get()
    assert (state.covered_from, state.rolled_until) == (
        minute_floor(now - timedelta(hours=48)),
        edge,
    )
    assert report.minutes == 48 * 60 - 2
    minutes = list(MetricMinute.objects.values_list("minute", flat=True))
    assert minutes == [state.covered_from + i * MINUTE for i in range(report.minutes)]
    expected = facts_from_rows_by_minute(state.covered_from, edge)
    for row in MetricMinute.objects.exclude(completed=0, instructions_created=0, hands_created=0):
        facts = expected[row.minute]
        assert (row.completed, row.instructions_created, row.hands_created) == (
            facts.completed,
            facts.instructions_created,
            facts.hands_created,
        )
        assert row.latency_us_total == facts.latency_us_total
        assert row.oldest_created_at == facts.oldest_created_at
        assert row.outputs_completed == facts.outputs_completed
    # The completions of the last two minutes or so are still in the live tail.
    rolled = RenderInstruction.objects.filter(status="completed", completed_at__lt=edge)
    assert 0 < rolled.count() < 14
    assert sum(MetricMinute.objects.values_list("completed", flat=True)) == rolled.count()
    whole_hours = (hour_floor(edge) - hour_ceil(state.covered_from)) // timedelta(hours=1)
    assert MetricHour.objects.count() == whole_hours
    assert (
        sum(MetricHour.objects.values_list("completed", flat=True))
        == rolled.filter(
            completed_at__gte=hour_ceil(state.covered_from), completed_at__lt=hour_floor(edge)
        ).count()
    )


def test_it_changes_nothing_when_run_twice():
    now = timezone.now()
    broadcast_day(now)
    metrics_rollup_run(now=now)
    rows = list(MetricMinute.objects.values_list())
    hours = list(MetricHour.objects.values_list())

    again = metrics_rollup_run(now=now)
    rebuilt = metrics_rollup_rebuild(since=now - timedelta(hours=30), now=now)

    assert again.minutes == 0 and again.skipped == "up to date"
    assert rebuilt.minutes == 30 * 60 - 2
    assert list(MetricMinute.objects.values_list()) == rows
    assert list(MetricHour.objects.values_list()) == hours


def test_it_catches_up_every_minute_of_the_runs_it_missed():
    now = timezone.now()
    broadcast_day(now)
    metrics_rollup_run(now=now - timedelta(hours=3))  # then the cluster was down for 3 h

    report = metrics_rollup_run(now=now)

    assert report.minutes == 3 * 60
    state = MetricRollupState.objects.get()
    count = (state.rolled_until - state.covered_from) // MINUTE
    assert MetricMinute.objects.count() == count
    assert MetricMinute.objects.filter(minute__gte=state.rolled_until).count() == 0
    assert figures(now) == from_scratch(now)


def test_it_starts_afresh_after_a_stop_longer_than_the_retention_and_prunes_old_minutes():
    now = timezone.now()
    metrics_rollup_run(now=now - timedelta(hours=60))

    metrics_rollup_run(now=now)

    state = MetricRollupState.objects.get()
    assert state.covered_from == minute_floor(now - timedelta(hours=48))
    assert MetricMinute.objects.order_by("minute").first().minute == state.covered_from
    assert MetricMinute.objects.count() == (state.rolled_until - state.covered_from) // MINUTE
    assert not MetricHour.objects.filter(hour__lt=state.covered_from).exists()


def test_it_leaves_the_work_to_the_run_that_moved_the_state_first(monkeypatch):
    """Two clusters running the schedule: the one that finds the state moved writes nothing."""
    from monitoring.services import rollup

    now = timezone.now()
    broadcast_day(now)
    metrics_rollup_run(now=now - timedelta(hours=1))
    real_rows = rollup._minute_rows

    def other_run_finishes_first(start, end):
        rows = real_rows(start, end)
        monkeypatch.setattr(rollup, "_minute_rows", real_rows)
        metrics_rollup_run(now=now)  # the other cluster
        return rows

    monkeypatch.setattr(rollup, "_minute_rows", other_run_finishes_first)
    report = metrics_rollup_run(now=now)

    assert report.skipped == "another run got there first"
    assert MetricRollupState.objects.get().rolled_until == minute_floor(now - timedelta(minutes=2))
    assert figures(now) == from_scratch(now)


# --------------------------------------------------------------------------------------------------
# Reading through it
# --------------------------------------------------------------------------------------------------


def test_it_serves_the_figures_a_computation_from_scratch_gives():
    now = timezone.now()
    broadcast_day(now)
    scratch = figures(now)

    metrics_rollup_run(now=now)

    assert MetricMinute.objects.filter(completed__gt=0).count() >= 6
    assert figures(now) == scratch
    # and at a later moment, with part of the day behind the edge and part in the tail
    later = now + timedelta(minutes=7, seconds=13)
    assert figures(later) == from_scratch(later)


def test_it_serves_the_same_api_bodies_before_and_after_the_rollup(person_client, monkeypatch):
    now = timezone.now()
    broadcast_day(now)
    monkeypatch.setattr(timezone, "now", lambda: now)
    urls = [
        reverse("dashboard"),
        reverse("orchestrator-status"),
        *(
            f"{reverse(name)}?window={w}"
            for w in WINDOWS
            for name in ("metrics-throughput", "metrics-latency", "metrics-error-rate")
        ),
    ]
    before = [person_client.get(url).json() for url in urls]
    before_text = prometheus_text()

    metrics_rollup_run(now=now)

    responses = [person_client.get(url) for url in urls]
    assert all(r.status_code == HTTPStatus.OK for r in responses)
    assert [r.json() for r in responses] == before
    assert prometheus_text() == before_text


def test_it_puts_inner_bucket_edges_on_whole_minutes_and_keeps_the_window_exact():
    now = datetime(2026, 11, 23, 10, 37, 23, 500_000, tzinfo=UTC)

    body = metrics_throughput(window=window_get("1h"), now=now)

    starts = [b.start for b in body.series]
    assert starts[0] == now - timedelta(hours=1)
    assert starts[1] == datetime(2026, 11, 23, 9, 43, tzinfo=UTC)
    assert starts[-1] == datetime(2026, 11, 23, 10, 33, tzinfo=UTC)
    assert all(b - a == timedelta(minutes=5) for a, b in pairwise(starts[1:]))


# --------------------------------------------------------------------------------------------------
# Rows that change after their minute
# --------------------------------------------------------------------------------------------------


def test_it_reads_what_still_changes_live_so_a_retry_a_cancel_or_a_late_completion_shows_at_once(
    person_client, dispatched, django_capture_on_commit_callbacks
):
    now = timezone.now()
    for _ in range(6):
        completed(now, timedelta(hours=3), timedelta(seconds=20))
    lost = failed(now, timedelta(hours=3))
    waiting = make_instruction(status="pending", priority=1, created_at=now - timedelta(hours=3))
    doomed = make_instruction(status="pending", priority=9, created_at=now - timedelta(hours=3))
    metrics_rollup_run(now=now)
    day = window_get("24h")
    before = metrics_error_rate(window=day, now=now)
    assert (before.failed, before.finished) == (1, 7)
    assert completion_rate(now=now) == pytest.approx(6 / 9, abs=1e-4)

    with django_capture_on_commit_callbacks(execute=True):
        for name, row in (("action-retry", lost), ("action-cancel", doomed)):
            response = person_client.post(
                reverse(name), {"instruction_id": row.pk, "reason": "ops"}, format="json"
            )
            assert response.status_code == HTTPStatus.OK
    claimed = instruction_claim_next(worker_id="w1")
    assert claimed.pk == waiting.pk
    instruction_complete(
        instruction_id=waiting.pk, worker_id="w1", output_path="x.png", file_size=1
    )
    later = timezone.now()

    after = metrics_error_rate(window=day, now=later)
    assert (after.failed, after.finished) == (0, 7)  # one failure retried, one completion
    # 7 of the 9 created are COMPLETED; the cancelled one leaves the denominator
    assert completion_rate(now=later) == pytest.approx(7 / 8, abs=1e-4)
    assert metrics_throughput(window=day, now=later).value == 7
    assert figures(later) == from_scratch(later)


def test_it_counts_a_long_waiting_job_in_the_day_it_was_created_not_the_one_it_completed_in():
    now = timezone.now()
    for hours in (2, 5, 20):
        completed(now, timedelta(hours=hours), timedelta(seconds=40))
    completed(now, timedelta(hours=5), timedelta(hours=23))  # created 28 h ago
    completed(now, timedelta(minutes=20), timedelta(hours=30))  # created 30 h ago, rolled up
    completed(now, timedelta(seconds=30), timedelta(hours=25))  # in the live tail
    make_instruction(status="pending", created_at=now - timedelta(hours=3))
    metrics_rollup_run(now=now)

    assert completion_rate(now=now) == pytest.approx(3 / 4, abs=1e-4)
    assert completions_between(now - timedelta(hours=24), now) == 6
    assert figures(now) == from_scratch(now)


def test_it_counts_a_row_that_commits_late_within_the_settle_delay():
    now = timezone.now()
    metrics_rollup_run(now=now)

    completed(now, timedelta(seconds=100), timedelta(seconds=5))  # stamped before the run

    hour = window_get("1h")
    assert metrics_throughput(window=hour, now=now).value == 1
    metrics_rollup_run(now=now + timedelta(minutes=2))
    assert metrics_throughput(window=hour, now=now).value == 1


def test_it_needs_a_rebuild_for_rows_dated_back_behind_its_edge():
    now = timezone.now()
    metrics_rollup_run(now=now)

    completed(now, timedelta(hours=2), timedelta(seconds=5))  # written today, dated 2 h back

    day = window_get("24h")
    assert metrics_throughput(window=day, now=now).value == 0
    metrics_rollup_rebuild(since=now - timedelta(hours=3), now=now)
    assert metrics_throughput(window=day, now=now).value == 1


def test_it_checks_only_the_orphans_it_knows_and_sees_their_instruction_at_once(settings):
    settings.MONITOR_ORPHAN_GRACE_SECONDS = 30
    now = timezone.now()
    orphan = make_hand(premium=True, age=timedelta(hours=4))
    covered = make_hand(premium=True, age=timedelta(hours=4))
    make_instruction(hand=covered, created_at=now - timedelta(hours=4))
    metrics_rollup_run(now=now)

    assert MetricRollupState.objects.get().orphan_hand_ids == [orphan.pk]
    assert [h.pk for h in orphan_hands(now=now)] == [orphan.pk]
    recent = make_hand(premium=True, age=timedelta(minutes=1))  # after the edge: checked live
    assert {h.pk for h in orphan_hands()} == {orphan.pk, recent.pk}

    make_instruction(hand=orphan)
    make_instruction(hand=recent)

    assert list(orphan_hands()) == []
    metrics_rollup_run(now=timezone.now() + timedelta(minutes=5))
    assert MetricRollupState.objects.get().orphan_hand_ids == []


# --------------------------------------------------------------------------------------------------
# Schedule and simulator
# --------------------------------------------------------------------------------------------------


def test_it_is_scheduled_every_minute_after_migrate_and_idempotently():
    from django_q.models import Schedule

    rollup_schedule_ensure()
    rollup_schedule_ensure()

    (schedule,) = Schedule.objects.filter(name=ROLLUP_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "monitoring.tasks.rollup_metrics",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_it_runs_the_scheduled_task_body():
    from monitoring.tasks import rollup_metrics

    completed(timezone.now(), timedelta(hours=1), timedelta(seconds=3))

    result = rollup_metrics()

    assert result["minutes"] == 48 * 60 - 2
    assert sum(MetricMinute.objects.values_list("completed", flat=True)) == 1


def test_the_simulator_rebuilds_the_minutes_it_dates_rows_back_into():
    from monitoring.services.detectors import monitor_run
    from monitoring.simulation import simulate

    metrics_rollup_run()  # the rollup already holds the last two days (empty)

    result = simulate(minutes=130, hands_per_minute=1, fail_rate=0.02, inject="error_spike", seed=5)

    assert figures(result.end) == from_scratch(result.end)
    assert monitor_run(now=result.end).opened["error_rate_spike"] == 1
