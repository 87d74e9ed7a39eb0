from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation_hub.errors import LeaseLost
from automation_hub.models import MonitoringEvent
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.services.transitions.decisions import instruction_auto_retry
from rendering.services.transitions.lease import (
    instruction_claim_next,
    instruction_complete,
    instruction_fail,
    instruction_heartbeat,
    instruction_release,
)
from tests.rendering.helpers import make_instruction

pytestmark = pytest.mark.django_db


def test_it_claims_priority_first_then_oldest():
    low = make_instruction(priority=5)
    urgent_new = make_instruction(priority=1)
    old_same = make_instruction(priority=5)
    RenderInstruction.objects.filter(pk=old_same.pk).update(
        created_at=low.created_at - timedelta(seconds=5)
    )
    order = [instruction_claim_next(worker_id="w1").pk for _ in range(3)]
    assert order == [urgent_new.pk, old_same.pk, low.pk]
    assert instruction_claim_next(worker_id="w1") is None


def test_it_skips_rows_whose_backoff_has_not_passed():
    waiting = make_instruction(priority=1, next_attempt_at=timezone.now() + timedelta(minutes=5))
    ready = make_instruction(priority=9)
    claimed = instruction_claim_next(worker_id="w1")
    assert claimed.pk == ready.pk
    assert instruction_claim_next(worker_id="w1") is None
    waiting.refresh_from_db()
    assert waiting.status == InstructionStatus.PENDING


def test_it_records_holder_and_a_new_lease_per_claim():
    row = make_instruction()
    first = instruction_claim_next(worker_id="w1", backend="preview")
    assert first.status == InstructionStatus.PROCESSING
    assert first.claimed_by == "w1" and first.backend == "preview"
    assert first.heartbeat_at is not None and first.started_at is not None
    instruction_release(instruction_id=row.pk, worker_id="w1", lease_id=first.lease_id, reason="x")
    second = instruction_claim_next(worker_id="w1")
    assert second.pk == row.pk and second.lease_id != first.lease_id


def test_it_completes_once_with_one_output():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    output = instruction_complete(
        instruction_id=job.pk,
        worker_id="w1",
        lease_id=job.lease_id,
        output_path="/out/a.png",
        file_size=123,
        frame_count=1,
    )
    job.refresh_from_db()
    assert job.status == InstructionStatus.COMPLETED and job.render_progress == 100
    assert output.file_size == 123
    # The same completion again (its answer was lost with the connection): already done.
    again = instruction_complete(
        instruction_id=job.pk,
        worker_id="w1",
        lease_id=job.lease_id,
        output_path="/out/a.png",
        file_size=123,
    )
    assert again.pk == output.pk
    with pytest.raises(LeaseLost):  # anyone else's is a late result
        instruction_complete(
            instruction_id=job.pk,
            worker_id="w2",
            lease_id=job.lease_id,
            output_path="/out/b.png",
            file_size=1,
        )
    assert RenderOutput.objects.filter(instruction=job).count() == 1


def test_it_refuses_and_records_the_late_result_of_a_stale_holder():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    # Reaped and claimed again by another worker meanwhile.
    instruction_release(instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id, reason="r")
    again = instruction_claim_next(worker_id="w2")
    with pytest.raises(LeaseLost):
        instruction_complete(
            instruction_id=job.pk,
            worker_id="w1",
            lease_id=job.lease_id,
            output_path="/out/late.png",
            file_size=1,
        )
    again.refresh_from_db()
    assert again.status == InstructionStatus.PROCESSING and again.claimed_by == "w2"
    assert not RenderOutput.objects.exists()
    event = MonitoringEvent.objects.get(code="late_result_refused")
    assert event.instruction_id == job.pk and event.details["worker_id"] == "w1"


def test_it_refuses_results_for_a_cancelled_job():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    RenderInstruction.objects.filter(pk=job.pk).update(status=InstructionStatus.CANCELLED)
    with pytest.raises(LeaseLost):
        instruction_heartbeat(instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id)
    with pytest.raises(LeaseLost):
        instruction_fail(
            instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id, error_message="boom"
        )
    job.refresh_from_db()
    assert job.status == InstructionStatus.CANCELLED and job.error_message == ""


def test_it_heartbeats_with_progress():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    instruction_heartbeat(
        instruction_id=job.pk,
        worker_id="w1",
        lease_id=job.lease_id,
        progress=40,
        external_id="nx-1",
    )
    job.refresh_from_db()
    assert job.render_progress == 40 and job.external_id == "nx-1"


def test_it_schedules_a_retry_under_max_retries(settings):
    settings.RENDER_RETRY_POLICIES = {"default": {"strategy": "fixed", "base_delay": 30}}
    make_instruction(max_retries=2)
    job = instruction_claim_next(worker_id="w1")
    before = timezone.now()
    failed = instruction_fail(
        instruction_id=job.pk,
        worker_id="w1",
        lease_id=job.lease_id,
        error_message="template missing layer",
    )
    assert failed.status == InstructionStatus.FAILED
    assert failed.error_message == "template missing layer"
    assert failed.next_attempt_at >= before + timedelta(seconds=29)
    assert not MonitoringEvent.objects.filter(code="job_failed_permanently").exists()


def test_it_fails_for_good_at_max_retries_with_an_event():
    make_instruction(max_retries=1, retry_count=1)
    job = instruction_claim_next(worker_id="w1")
    failed = instruction_fail(
        instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id, error_message="bad"
    )
    assert failed.status == InstructionStatus.FAILED and failed.next_attempt_at is None
    event = MonitoringEvent.objects.get(code="job_failed_permanently")
    assert event.severity == "error" and event.instruction_id == job.pk


def test_it_requeues_failed_rows_conditionally():
    row = make_instruction(status=InstructionStatus.FAILED, retry_count=1)
    requeued = instruction_auto_retry(instruction_id=row.pk, due_by=timezone.now())
    assert requeued.status == InstructionStatus.PENDING and requeued.retry_count == 2
    # Already re-queued (by this or another sweep, or an operator): nothing happens twice.
    assert instruction_auto_retry(instruction_id=row.pk, due_by=timezone.now()) is None
    done = make_instruction(status=InstructionStatus.COMPLETED)
    assert instruction_auto_retry(instruction_id=done.pk, due_by=timezone.now()) is None
    spent = make_instruction(status=InstructionStatus.FAILED, retry_count=3, max_retries=3)
    assert instruction_auto_retry(instruction_id=spent.pk, due_by=timezone.now()) is None


def test_it_releases_without_spending_a_retry():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    assert instruction_release(
        instruction_id=job.pk, worker_id="w1", lease_id=job.lease_id, reason="nexrender unavailable"
    )
    job.refresh_from_db()
    assert job.status == InstructionStatus.PENDING and job.retry_count == 0
    assert job.claimed_by == "" and job.lease_id is None


def test_it_refuses_a_result_under_a_lease_id_that_is_not_a_uuid():
    make_instruction()
    job = instruction_claim_next(worker_id="w1")
    with pytest.raises(LeaseLost):
        instruction_complete(
            instruction_id=job.pk,
            worker_id="w1",
            lease_id="not-a-lease",
            output_path="/out/x.png",
            file_size=1,
        )
    job.refresh_from_db()
    assert job.status == InstructionStatus.PROCESSING and not RenderOutput.objects.exists()


def test_a_claim_and_a_completion_each_store_their_live_events_with_the_change():
    from automation_hub.models import LiveEvent

    row = make_instruction()
    before = LiveEvent.objects.count()
    job = instruction_claim_next(worker_id="w1")
    claimed = list(LiveEvent.objects.order_by("id")[before:])
    assert [(e.type, e.data["status"]) for e in claimed] == [("instruction_updated", "processing")]
    output = instruction_complete(
        instruction_id=job.pk,
        worker_id="w1",
        lease_id=job.lease_id,
        output_path="/out/done.png",
        file_size=10,
    )
    completed = list(LiveEvent.objects.order_by("id")[before + 1 :])
    assert [e.type for e in completed] == ["instruction_updated", "render_completed"]
    assert completed[0].data["status"] == "completed" and completed[0].data["id"] == row.pk
    assert completed[1].data["output_id"] == output.pk
    assert completed[1].data["output_path"] == "/out/done.png"
