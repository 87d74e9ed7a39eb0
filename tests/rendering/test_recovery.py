from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule

from automation_hub.models import MonitoringEvent
from rendering.models import BreakerState, CircuitBreaker, InstructionStatus, RenderInstruction
from rendering.selectors import breaker_state
from rendering.services.breaker import (
    breaker_allows,
    breaker_record_failure,
    breaker_record_success,
)
from rendering.services.recovery import (
    instructions_reap_stale,
    instructions_retry_due,
    queue_schedules_ensure,
    queue_sweep,
)
from rendering.services.transitions.decisions import TIMEOUT_MESSAGE
from rendering.services.transitions.lease import instruction_claim_next, instruction_fail
from tests.rendering.helpers import make_instruction

pytestmark = pytest.mark.django_db


def _age_heartbeat(pk: int, seconds: int) -> None:
    RenderInstruction.objects.filter(pk=pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_it_recovers_a_job_whose_worker_stopped_heartbeating(django_capture_on_commit_callbacks):
    broker = get_broker()
    broker.purge_queue()
    make_instruction()
    job = instruction_claim_next(worker_id="dead-worker")
    _age_heartbeat(job.pk, 700)
    with django_capture_on_commit_callbacks(execute=True):
        counts = instructions_reap_stale(timeout_seconds=600)
    assert counts == {"recovered": 1, "timed_out": 0}
    job.refresh_from_db()
    assert job.status == InstructionStatus.PENDING and job.retry_count == 1
    assert job.claimed_by == "" and job.lease_id is None
    event = MonitoringEvent.objects.get(code="stuck_job_recovered")
    assert event.instruction_id == job.pk and "dead-worker" in event.message
    assert broker.queue_size() == 1  # re-dispatched


def test_it_leaves_live_jobs_alone():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    _age_heartbeat(job.pk, 30)
    assert instructions_reap_stale(timeout_seconds=600) == {"recovered": 0, "timed_out": 0}
    job.refresh_from_db()
    assert job.status == InstructionStatus.PROCESSING


def test_it_times_out_a_stuck_job_at_max_retries_as_stale_not_failed():
    make_instruction(retry_count=3, max_retries=3)
    job = instruction_claim_next(worker_id="w1")
    _age_heartbeat(job.pk, 700)
    assert instructions_reap_stale(timeout_seconds=600) == {"recovered": 0, "timed_out": 1}
    job.refresh_from_db()
    # Timed out (its worker stopped answering), not failed (its render never failed).
    assert job.status == InstructionStatus.STALE and job.error_message.startswith(TIMEOUT_MESSAGE)
    assert job.completed_at is not None
    (event,) = MonitoringEvent.objects.filter(code="job_timed_out")
    assert (event.severity, event.instruction_id) == ("error", job.pk)
    assert not MonitoringEvent.objects.filter(code="job_failed_permanently").exists()
    (audit,) = job.audit_entries.all()
    assert (audit.action, audit.actor_name, audit.after["status"]) == (
        "reap_final",
        "reaper",
        "stale",
    )


def test_it_retries_failed_jobs_when_their_backoff_is_due(settings):
    settings.RENDER_RETRY_POLICIES = {"default": {"strategy": "fixed", "base_delay": 60}}
    make_instruction(max_retries=3)
    job = instruction_claim_next(worker_id="w1")
    instruction_fail(
        instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id, error_message="AE crashed"
    )
    assert instructions_retry_due() == 0  # not due yet
    RenderInstruction.objects.filter(pk=job.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert instructions_retry_due() == 1
    job.refresh_from_db()
    assert job.status == InstructionStatus.PENDING and job.retry_count == 1
    assert MonitoringEvent.objects.filter(code="job_auto_retried", instruction=job).exists()


def test_it_does_not_retry_permanent_failures():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    instruction_fail(
        instruction_id=job.pk,
        worker_id="w1",
        lease_id=job.lease_id,
        error_message="bad format",
        retryable=False,
    )
    assert instructions_retry_due() == 0
    job.refresh_from_db()
    assert job.status == InstructionStatus.FAILED


def test_it_uses_exponential_backoff_per_backend(settings):
    from rendering.services.retry import retry_policy_for

    settings.RENDER_RETRY_POLICIES = {
        "nexrender": {"strategy": "exponential", "base_delay": 10, "max_delay": 35},
        "default": {"strategy": "fixed", "base_delay": 3},
    }
    policy = retry_policy_for(backend="nexrender")
    assert [policy.delay(retry_count=n).total_seconds() for n in range(4)] == [10, 20, 35, 35]
    assert retry_policy_for(backend="preview").delay(retry_count=5).total_seconds() == 3


def test_it_opens_the_breaker_at_the_threshold_and_half_opens_after_reset(settings):
    settings.RENDER_BREAKER_THRESHOLD = 3
    settings.RENDER_BREAKER_RESET_SECONDS = 60
    assert breaker_allows(backend="nexrender")
    assert not breaker_record_failure(backend="nexrender", error="refused")
    assert not breaker_record_failure(backend="nexrender", error="refused")
    assert breaker_record_failure(backend="nexrender", error="refused")
    assert breaker_state(backend="nexrender")["state"] == BreakerState.OPEN
    assert not breaker_allows(backend="nexrender")
    assert MonitoringEvent.objects.filter(code="circuit_opened").count() == 1
    CircuitBreaker.objects.filter(backend="nexrender").update(
        opened_at=timezone.now() - timedelta(seconds=61)
    )
    assert breaker_allows(backend="nexrender")  # the one trial
    assert not breaker_allows(backend="nexrender")  # nobody else meanwhile
    assert breaker_state(backend="nexrender")["state"] == BreakerState.HALF_OPEN
    assert breaker_record_failure(backend="nexrender", error="still down")  # re-opens
    CircuitBreaker.objects.filter(backend="nexrender").update(
        opened_at=timezone.now() - timedelta(seconds=61)
    )
    assert breaker_allows(backend="nexrender")
    assert breaker_record_success(backend="nexrender")
    assert breaker_state(backend="nexrender")["state"] == BreakerState.CLOSED
    assert MonitoringEvent.objects.filter(code="circuit_closed").count() == 1


def test_it_sweeps_pending_work_into_wakeups():
    make_instruction()
    make_instruction(next_attempt_at=timezone.now() + timedelta(hours=1))
    broker = get_broker()
    broker.purge_queue()
    assert queue_sweep() == {"retried": 0, "pending": 1, "wakeups": 1}
    assert broker.queue_size() == 1


def test_it_sends_no_wakeups_while_the_breaker_is_open(settings):
    settings.RENDER_BACKEND = "nexrender"
    make_instruction()
    CircuitBreaker.objects.create(
        backend="nexrender", state=BreakerState.OPEN, opened_at=timezone.now()
    )
    broker = get_broker()
    broker.purge_queue()
    assert queue_sweep()["wakeups"] == 0
    assert broker.queue_size() == 0


def test_it_creates_the_queue_schedules_idempotently():
    # `migrate` (run for the test database) already created them; running again changes nothing.
    names = queue_schedules_ensure()
    queue_schedules_ensure()
    schedules = Schedule.objects.filter(name__in=names)
    assert schedules.count() == 2
    assert {s.func for s in schedules} == {
        "rendering.tasks.queue_reap",
        "rendering.tasks.queue_sweep",
    }
    assert all(s.schedule_type == Schedule.MINUTES and s.minutes == 1 for s in schedules)


def test_a_busy_worker_sees_a_breaker_opened_elsewhere_within_its_short_cache(monkeypatch):
    from rendering.services import breaker

    clock = [1000.0]
    monkeypatch.setattr(breaker.time, "monotonic", lambda: clock[0])
    assert breaker_allows(backend="nexrender")  # read: CLOSED, remembered briefly
    # Another process opens it.
    CircuitBreaker.objects.filter(backend="nexrender").update(
        state=BreakerState.OPEN, opened_at=timezone.now()
    )
    clock[0] += breaker.CLOSED_CACHE_SECONDS + 0.01
    assert not breaker_allows(backend="nexrender")
    # A failure seen by this worker forgets the cached state at once.
    CircuitBreaker.objects.filter(backend="nexrender").update(state=BreakerState.CLOSED)
    assert breaker_allows(backend="nexrender")
    breaker_record_failure(backend="nexrender", error="refused")
    CircuitBreaker.objects.filter(backend="nexrender").update(
        state=BreakerState.OPEN, opened_at=timezone.now()
    )
    assert not breaker_allows(backend="nexrender")


def test_a_burst_sends_a_few_wakeups_and_one_of_them_drains_it_all(
    settings, django_capture_on_commit_callbacks
):
    from rendering.services.instructions import instruction_create
    from rendering.services.worker import queue_work

    settings.RENDER_BACKEND = "noop"
    settings.RENDER_WAKEUP_BACKLOG = 3
    broker = get_broker()
    broker.purge_queue()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(40):
            instruction_create(template_name="lower_third", priority=1 + n % 10)
    assert broker.queue_size() == 3
    assert queue_work(budget_seconds=30, worker_id="w1") == 40
    assert not RenderInstruction.objects.exclude(status=InstructionStatus.COMPLETED).exists()


def test_the_sweep_tops_up_wakeups_to_what_is_pending(settings):
    for _ in range(5):
        make_instruction()
    broker = get_broker()
    broker.purge_queue()
    assert queue_sweep()["wakeups"] == 5
    assert queue_sweep()["wakeups"] == 0  # five still wait untaken: nothing more to send
    assert broker.queue_size() == 5


def test_a_worker_out_of_time_leaves_a_wakeup_for_the_rest(settings):
    from rendering.services.worker import queue_work

    settings.RENDER_BACKEND = "noop"
    for _ in range(3):
        make_instruction()
    broker = get_broker()
    broker.purge_queue()
    assert queue_work(budget_seconds=0, worker_id="w1") == 1
    assert broker.queue_size() == 1
    assert RenderInstruction.objects.filter(status=InstructionStatus.PENDING).count() == 2
