from __future__ import annotations

import threading
from http import HTTPStatus
from pathlib import Path

import pytest
from django.conf import settings
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


def _rendered(name: str, size: int) -> Path:
    """A file an ae machine wrote to the output storage."""
    path = Path(settings.OUTPUT_ROOT) / "ae" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * size)
    return path


def test_it_hands_out_the_best_job_then_204(ae):
    make_instruction(priority=7)
    urgent = make_instruction(priority=2)
    response = _claim(ae, "ae-1")
    assert response.status_code == HTTPStatus.OK
    assert response.data["id"] == urgent.pk and response.data["lease_id"]
    assert response.data["layer_data"]["winner"] == "Alice"
    urgent.refresh_from_db()
    assert urgent.status == InstructionStatus.PROCESSING
    # Held under the key that claimed it, so no other key can report on it.
    assert urgent.claimed_by.startswith("ae:") and urgent.claimed_by.endswith(":ae-1")
    assert _claim(ae, "ae-1").status_code == HTTPStatus.OK
    assert _claim(ae, "ae-1").status_code == HTTPStatus.NO_CONTENT


def test_it_runs_a_job_through_heartbeat_and_complete_reading_the_size_itself(ae):
    row = make_instruction()
    job = _claim(ae, "ae-1").data
    beat = ae.post(
        reverse("render-heartbeat", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": job["lease_id"], "progress": 55},
    )
    assert beat.status_code == HTTPStatus.OK and beat.data["render_progress"] == 55
    path = _rendered("1.mov", 9000)
    done = ae.post(
        reverse("render-complete", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": job["lease_id"], "output_path": "ae/1.mov"},
    )
    assert done.status_code == HTTPStatus.OK
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED
    output = RenderOutput.objects.get(instruction=row)
    assert (output.output_path, output.file_size, output.frame_count) == (
        str(path.resolve()),
        9000,
        1,
    )


def test_it_counts_the_frames_and_bytes_of_a_png_sequence_folder(ae):
    row = make_instruction()
    job = _claim(ae, "ae-1").data
    for n in range(1, 25):
        _rendered(f"seq/frame_{n:05d}.png", 100)
    done = ae.post(
        reverse("render-complete", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": job["lease_id"], "output_path": "ae/seq"},
    )
    assert done.status_code == HTTPStatus.OK
    output = RenderOutput.objects.get(instruction=row)
    assert (output.file_size, output.frame_count) == (2400, 24)


def test_it_records_a_reported_failure(ae):
    row = make_instruction()
    job = _claim(ae, "ae-1").data
    response = ae.post(
        reverse("render-fail", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": job["lease_id"], "error_message": "Missing font Gotham"},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.data["status"] == InstructionStatus.FAILED
    row.refresh_from_db()
    assert row.error_message == "Missing font Gotham" and row.next_attempt_at is not None


def test_it_answers_409_to_a_stale_holder(ae):
    row = make_instruction()
    old = _claim(ae, "ae-1").data
    RenderInstruction.objects.filter(pk=row.pk).update(
        status=InstructionStatus.PENDING, claimed_by="", lease_id=None
    )
    _claim(ae, "ae-2")  # the reaped job went to another machine
    _rendered("late.png", 10)
    response = ae.post(
        reverse("render-complete", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": old["lease_id"], "output_path": "ae/late.png"},
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.data["code"] == "lease_lost"
    heartbeat = ae.post(
        reverse("render-heartbeat", args=[row.pk]),
        {"worker_id": "ae-1", "lease_id": old["lease_id"]},
    )
    assert heartbeat.status_code == HTTPStatus.CONFLICT
    row.refresh_from_db()
    assert row.status == InstructionStatus.PROCESSING and row.claimed_by.endswith(":ae-2")
    assert not RenderOutput.objects.exists()
    assert MonitoringEvent.objects.filter(code="late_result_refused").count() == 1


def test_it_refuses_a_report_on_a_job_another_key_claimed(ae, key_client):
    row = make_instruction()
    job = _claim(ae, "ae-1").data
    other = key_client("ae")  # another machine's key, even naming the same worker id and lease
    _rendered("theirs.png", 10)
    report = {"worker_id": "ae-1", "lease_id": job["lease_id"]}
    for name, extra in (
        ("render-heartbeat", {"progress": 10}),
        ("render-complete", {"output_path": "ae/theirs.png"}),
        ("render-fail", {"error_message": "not mine"}),
    ):
        response = other.post(reverse(name, args=[row.pk]), {**report, **extra})
        assert response.status_code == HTTPStatus.FORBIDDEN, name
    row.refresh_from_db()
    assert (row.status, row.render_progress, row.error_message) == ("processing", 0, "")
    assert not RenderOutput.objects.exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"output_path": "ae/done.png", "lease_id": None}, "lease_id"),
        ({"output_path": "ae/done.png", "file_size": -5}, "file_size"),
        ({"output_path": "ae/done.png", "file_size": 11}, "file_size"),  # it is 10 bytes
        ({"output_path": "ae/missing.png"}, "output_path"),
        ({"output_path": "/etc/hostname"}, "output_path"),
        ({"output_path": "../../outside.png"}, "output_path"),
        ({"output_path": "ae/link.png"}, "output_path"),  # a link out of the output root
    ],
)
def test_it_rejects_bad_completions_with_field_messages(ae, body, field, tmp_path):
    row = make_instruction()
    job = _claim(ae, "ae-1").data
    _rendered("done.png", 10)
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"x")
    (Path(settings.OUTPUT_ROOT) / "ae" / "link.png").symlink_to(outside)
    payload = {"worker_id": "ae-1", "lease_id": job["lease_id"], **body}
    if payload["lease_id"] is None:
        del payload["lease_id"]
    response = ae.post(reverse("render-complete", args=[row.pk]), payload)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.data["errors"]
    row.refresh_from_db()
    assert row.status == InstructionStatus.PROCESSING
    assert not RenderOutput.objects.exists()


def test_it_needs_a_worker_id_to_claim(ae):
    make_instruction()
    response = _claim(ae, "")
    assert response.status_code == HTTPStatus.BAD_REQUEST and "worker_id" in response.data["errors"]


def test_it_answers_404_for_an_unknown_job(ae):
    response = ae.post(
        reverse("render-heartbeat", args=[999999]),
        {"worker_id": "ae-1", "lease_id": "00000000-0000-0000-0000-000000000001"},
    )
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
    assert all(holders[pk].endswith(f":{worker}") for worker, got in claimed.items() for pk in got)
