from __future__ import annotations

import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from automation_hub.models import MonitoringEvent
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from tests.rendering.helpers import make_instruction

pytestmark = pytest.mark.django_db


@pytest.fixture
def ae(key_client) -> APIClient:
    return key_client("ae")


def _claim(client: APIClient, worker: str):
    return client.post(reverse("render-claim"), {"worker_id": worker})


def test_it_hands_out_the_best_job_then_204(ae):
    make_instruction(priority=7)
    urgent = make_instruction(priority=2)
    response = _claim(ae, "ae-1")
    assert response.status_code == HTTPStatus.OK
    assert response.data["id"] == urgent.pk and response.data["lease_id"]
    assert response.data["layer_data"]["winner"] == "Alice"
    urgent.refresh_from_db()
    assert urgent.status == InstructionStatus.PROCESSING and urgent.claimed_by == "ae-1"
    assert _claim(ae, "ae-1").status_code == HTTPStatus.OK
    assert _claim(ae, "ae-1").status_code == HTTPStatus.NO_CONTENT


def test_it_runs_a_job_through_heartbeat_and_complete(ae):
    row = make_instruction()
    job = _claim(ae, "ae-1").data
    beat = ae.post(
        reverse("render-heartbeat", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": job["lease_id"], "progress": 55},
    )
    assert beat.status_code == HTTPStatus.OK and beat.data["render_progress"] == 55
    done = ae.post(
        reverse("render-complete", args=[row.pk]),
        {
            "worker_id": "ae-1",
            "output_path": "//nas/out/1.mov",
            "file_size": 9000,
            "frame_count": 120,
        },
    )
    assert done.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED
    output = RenderOutput.objects.get(instruction=row)
    assert (output.file_size, output.frame_count) == (9000, 120)


def test_it_records_a_reported_failure(ae):
    row = make_instruction()
    _claim(ae, "ae-1")
    response = ae.post(
        reverse("render-fail", args=[row.pk]),
        {"worker_id": "ae-1", "error_message": "Missing font Gotham"},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.data["status"] == InstructionStatus.FAILED
    row.refresh_from_db()
    assert row.error_message == "Missing font Gotham" and row.next_attempt_at is not None


def test_it_answers_409_to_a_stale_holder(ae):
    row = make_instruction()
    _claim(ae, "ae-1")
    RenderInstruction.objects.filter(pk=row.pk).update(
        status=InstructionStatus.PENDING, claimed_by="", lease_id=None
    )
    _claim(ae, "ae-2")  # the reaped job went to another machine
    response = ae.post(
        reverse("render-complete", args=[row.pk]),
        {"worker_id": "ae-1", "output_path": "/x", "file_size": 1},
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.data["code"] == "lease_lost"
    heartbeat = ae.post(reverse("render-heartbeat", args=[row.pk]), {"worker_id": "ae-1"})
    assert heartbeat.status_code == HTTPStatus.CONFLICT
    row.refresh_from_db()
    assert row.status == InstructionStatus.PROCESSING and row.claimed_by == "ae-2"
    assert not RenderOutput.objects.exists()
    assert MonitoringEvent.objects.filter(code="late_result_refused").count() == 1


def test_it_rejects_bad_input_with_field_messages(ae):
    row = make_instruction()
    assert _claim(ae, "").status_code == HTTPStatus.BAD_REQUEST
    _claim(ae, "ae-1")
    response = ae.post(
        reverse("render-complete", args=[row.pk]),
        {"worker_id": "ae-1", "output_path": "/x", "file_size": -5},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "file_size" in response.data["errors"]
    row.refresh_from_db()
    assert row.status == InstructionStatus.PROCESSING


def test_it_answers_404_for_an_unknown_job(ae):
    response = ae.post(reverse("render-heartbeat", args=[999999]), {"worker_id": "ae-1"})
    assert response.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("caller", ["anonymous", "person", "sub", "feature_table"])
def test_it_admits_only_ae_keys(caller, anon_client, person_client, key_client):
    make_instruction()
    client = {"anonymous": anon_client, "person": person_client}.get(caller) or key_client(caller)
    response = _claim(client, "w")
    expected = HTTPStatus.UNAUTHORIZED if caller == "anonymous" else HTTPStatus.FORBIDDEN
    assert response.status_code == expected
    assert not RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING).exists()


@pytest.mark.django_db(transaction=True)
def test_it_never_gives_two_concurrent_claimers_the_same_job(key_client):
    rows = [make_instruction(priority=(i % 10) + 1) for i in range(40)]
    clients = [key_client("ae") for _ in range(4)]
    claimed: dict[str, list[int]] = {}

    def drain(index: int) -> None:
        worker, got = f"ae-{index}", []
        try:
            while (response := _claim(clients[index], worker)).status_code == HTTPStatus.OK:
                got.append(response.data["id"])
        finally:
            claimed[worker] = got
            connection.close()

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    all_ids = [pk for got in claimed.values() for pk in got]
    assert sorted(all_ids) == sorted(r.pk for r in rows)  # each job exactly once
    assert len(set(all_ids)) == len(all_ids)
    holders = dict(RenderInstruction.objects.values_list("pk", "claimed_by"))
    assert all(holders[pk] == worker for worker, got in claimed.items() for pk in got)
