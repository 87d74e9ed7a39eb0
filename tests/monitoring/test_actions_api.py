"""Manual override over the API: each action's happy path, bad body, illegal transition,
wrong caller, audit row and live event."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from automation_hub.models import MonitoringEvent
from rendering.models import AuditEntry, RenderInstruction
from tests.monitoring.helpers import make_hand, make_instruction

pytestmark = pytest.mark.django_db


def post(client, name: str, body: dict, capture):
    with capture(execute=True):
        return client.post(reverse(name), body, format="json")


# --- retry


def test_it_retries_a_failed_instruction_audits_it_and_wakes_the_workers(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks
):
    hand = make_hand()
    row = make_instruction(status="failed", retry_count=3, error_message="AE crashed", hand=hand)

    response = post(
        person_client,
        "action-retry",
        {"instruction_id": row.pk, "reason": "AE restarted"},
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "pending"
    row.refresh_from_db()
    assert (row.status, row.retry_count, row.error_message, row.completed_at) == (
        "pending",
        0,
        "",
        None,
    )
    audit = AuditEntry.objects.get()
    assert audit.action == "retry"
    assert audit.actor_name == "engineer"
    assert audit.actor.username == "engineer"
    assert audit.reason == "AE restarted"
    assert audit.target_ids == [row.pk]
    assert audit.before["status"] == "failed"
    assert audit.before["retry_count"] == 3
    assert audit.after["status"] == "pending"
    assert audit.via == "api"
    event = MonitoringEvent.objects.get(code="manual_retry")
    assert event.correlation_id == hand.correlation_id
    assert dispatched == [row.pk]
    updates = live_events.of_type("instruction_updated")
    assert [(u["id"], u["status"], u["action"]) for u in updates] == [(row.pk, "pending", "retry")]


@pytest.mark.parametrize("status", ["processing", "pending", "completed"])
def test_it_refuses_to_retry_a_job_that_is_not_finished_unsuccessfully(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks, status
):
    row = make_instruction(status=status, claimed_by="w1" if status == "processing" else "")

    response = post(
        person_client,
        "action-retry",
        {"instruction_id": row.pk, "reason": "try again"},
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == HTTPStatus.CONFLICT
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert body["status"] == status
    assert f"instruction {row.pk}" in body["detail"]
    row.refresh_from_db()
    assert row.status == status
    assert AuditEntry.objects.count() == 0
    assert dispatched == []
    assert live_events.sent == []


@pytest.mark.parametrize(
    "body,field",
    [
        ({"reason": "x"}, "instruction_id"),
        ({"instruction_id": 1}, "reason"),
        ({"instruction_id": 1, "reason": "   "}, "reason"),
        ({"instruction_id": "abc", "reason": "x"}, "instruction_id"),
    ],
)
def test_it_rejects_a_retry_without_id_or_reason(person_client, body, field):
    response = person_client.post(reverse("action-retry"), body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_it_answers_404_for_an_unknown_instruction(person_client):
    response = person_client.post(
        reverse("action-retry"), {"instruction_id": 999999, "reason": "x"}, format="json"
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize(
    "name", ["action-retry", "action-cancel", "action-change-priority", "action-bulk-retry"]
)
def test_it_keeps_actions_from_anonymous_callers_and_producer_keys(anon_client, key_client, name):
    row = make_instruction(status="failed")
    body = {"instruction_id": row.pk, "reason": "x", "priority": 1, "filter": {}}

    assert anon_client.post(reverse(name), body, format="json").status_code == 401
    for role in ("feature_table", "sub", "ae"):
        response = key_client(role).post(reverse(name), body, format="json")
        assert response.status_code == HTTPStatus.FORBIDDEN, role
    row.refresh_from_db()
    assert row.status == "failed"
    assert AuditEntry.objects.count() == 0


# --- cancel


def test_it_cancels_a_processing_job_so_the_workers_lease_no_longer_matches(
    person_client, live_events, django_capture_on_commit_callbacks
):
    import uuid

    lease = uuid.uuid4()
    row = make_instruction(
        status="processing", claimed_by="worker-1", lease_id=lease, heartbeat_at=timezone.now()
    )

    response = post(
        person_client,
        "action-cancel",
        {"instruction_id": row.pk, "reason": "wrong player name"},
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert row.status == "cancelled"
    assert row.lease_id is None and row.claimed_by == ""
    # What the queue's complete/fail match on: the holder's row in PROCESSING with its lease.
    assert not RenderInstruction.objects.filter(
        pk=row.pk, status="processing", claimed_by="worker-1", lease_id=lease
    ).exists()
    audit = AuditEntry.objects.get(action="cancel")
    assert audit.before["status"] == "processing"
    assert audit.before["claimed_by"] == "worker-1"
    assert audit.after["status"] == "cancelled"
    assert [u["status"] for u in live_events.of_type("instruction_updated")] == ["cancelled"]


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_it_refuses_to_cancel_a_finished_job(person_client, status):
    row = make_instruction(status=status)

    response = person_client.post(
        reverse("action-cancel"), {"instruction_id": row.pk, "reason": "oops"}, format="json"
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert f"already {status}" in response.json()["detail"]
    row.refresh_from_db()
    assert row.status == status
    assert not AuditEntry.objects.exists()


def test_it_rejects_a_cancel_without_reason(person_client):
    row = make_instruction()

    response = person_client.post(
        reverse("action-cancel"), {"instruction_id": row.pk}, format="json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "reason" in response.json()["errors"]
    row.refresh_from_db()
    assert row.status == "pending"


# --- change priority


def test_it_changes_the_priority_of_a_pending_job(
    person_client, live_events, django_capture_on_commit_callbacks
):
    row = make_instruction(priority=7)

    response = post(
        person_client,
        "action-change-priority",
        {"instruction_id": row.pk, "priority": 1, "reason": "final table"},
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert row.priority == 1
    audit = AuditEntry.objects.get(action="change_priority")
    assert (audit.before["priority"], audit.after["priority"]) == (7, 1)
    assert [u["priority"] for u in live_events.of_type("instruction_updated")] == [1]


@pytest.mark.parametrize("priority", [0, 11, "high", None])
def test_it_rejects_a_priority_outside_1_to_10(person_client, priority):
    row = make_instruction(priority=5)

    response = person_client.post(
        reverse("action-change-priority"),
        {"instruction_id": row.pk, "priority": priority, "reason": "x"},
        format="json",
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "priority" in response.json()["errors"]
    row.refresh_from_db()
    assert row.priority == 5


def test_it_refuses_to_reprioritize_a_completed_job(person_client):
    row = make_instruction(status="completed", priority=5)

    response = person_client.post(
        reverse("action-change-priority"),
        {"instruction_id": row.pk, "priority": 1, "reason": "x"},
        format="json",
    )

    assert response.status_code == HTTPStatus.CONFLICT
    row.refresh_from_db()
    assert row.priority == 5


# --- bulk retry


def _failed_batch():
    old = make_instruction(status="failed", age=timedelta(hours=3), template_name="lower_third")
    recent = make_instruction(
        status="failed", age=timedelta(minutes=10), template_name="lower_third"
    )
    other = make_instruction(status="failed", age=timedelta(minutes=10), template_name="chip_count")
    done = make_instruction(
        status="completed", age=timedelta(minutes=10), template_name="lower_third"
    )
    return old, recent, other, done


def test_it_counts_a_bulk_retry_in_a_dry_run_and_changes_nothing(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks
):
    _, recent, _, _ = _failed_batch()
    body = {
        "filter": {
            "status": "failed",
            "created_after": (timezone.now() - timedelta(hours=1)).isoformat(),
            "template_name": "lower_third",
        },
        "reason": "AE node back",
        "dry_run": True,
    }

    response = post(person_client, "action-bulk-retry", body, django_capture_on_commit_callbacks)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"count": 1, "ids": [recent.pk], "dry_run": True, "audit_id": None}
    assert set(RenderInstruction.objects.values_list("status", flat=True)) == {
        "failed",
        "completed",
    }
    assert not AuditEntry.objects.exists()
    assert dispatched == []
    assert live_events.sent == []


def test_it_bulk_retries_what_the_filter_matches(
    person_client, live_events, dispatched, django_capture_on_commit_callbacks
):
    old, recent, other, done = _failed_batch()
    body = {"filter": {"status": "failed", "template_name": "lower_third"}, "reason": "node back"}

    response = post(person_client, "action-bulk-retry", body, django_capture_on_commit_callbacks)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["count"] == 2
    assert response.json()["ids"] == [old.pk, recent.pk]
    for row, status in (
        (old, "pending"),
        (recent, "pending"),
        (other, "failed"),
        (done, "completed"),
    ):
        row.refresh_from_db()
        assert row.status == status
    # One entry per row, so each instruction's history holds its part of the bulk retry.
    audits = list(AuditEntry.objects.filter(action="bulk_retry").order_by("instruction_id"))
    assert [a.instruction_id for a in audits] == [old.pk, recent.pk]
    assert response.json()["audit_id"] == audits[0].pk
    for audit in audits:
        assert (audit.before["status"], audit.after["status"]) == ("failed", "pending")
        assert audit.reason == "node back" and audit.actor_name == "engineer"
        assert audit.after["filter"] == {"status": "failed", "template_name": "lower_third"}
    assert sorted(dispatched) == [old.pk, recent.pk]
    assert sorted(u["id"] for u in live_events.of_type("instruction_updated")) == [
        old.pk,
        recent.pk,
    ]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"filter": {"status": "completed"}, "reason": "x"}, "filter"),
        ({"filter": {"status": "failed"}}, "reason"),
        ({"filter": {"created_after": "yesterday"}, "reason": "x"}, "filter"),
        (
            {
                "filter": {
                    "created_after": "2026-01-02T00:00:00Z",
                    "created_before": "2026-01-01T00:00:00Z",
                },
                "reason": "x",
            },
            "filter",
        ),
    ],
)
def test_it_rejects_a_bad_bulk_retry_filter(person_client, body, field):
    row = make_instruction(status="failed")

    response = person_client.post(reverse("action-bulk-retry"), body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert any(key.startswith(field) for key in response.json()["errors"])
    row.refresh_from_db()
    assert row.status == "failed"


def test_it_makes_the_queue_refuse_a_cancelled_jobs_late_result(person_client):
    from automation_hub.errors import LeaseLost
    from rendering.services.transitions.lease import instruction_claim_next, instruction_complete

    row = make_instruction(status="pending")
    claimed = instruction_claim_next(worker_id="worker-7")
    assert claimed is not None and claimed.pk == row.pk

    response = person_client.post(
        reverse("action-cancel"), {"instruction_id": row.pk, "reason": "pulled"}, format="json"
    )
    assert response.status_code == HTTPStatus.OK

    with pytest.raises(LeaseLost):
        instruction_complete(
            instruction_id=row.pk,
            worker_id="worker-7",
            lease_id=claimed.lease_id,
            output_path="late.png",
            file_size=1,
        )
    row.refresh_from_db()
    assert row.status == "cancelled"
    assert not row.outputs.exists()
