"""Orchestrator: block status, reconciliation runs (API-started and scheduled)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from automation_hub.models import MonitoringEvent
from monitoring.models import SyncRun
from monitoring.services import orchestrator
from monitoring.services.detectors import monitor_run
from monitoring.services.orchestrator import sync_execute
from rendering.models import RenderInstruction
from tests.monitoring.helpers import make_hand, make_instruction, make_output

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_runs(monkeypatch) -> list[int]:
    runs: list[int] = []
    monkeypatch.setattr(orchestrator, "_enqueue", runs.append)
    return runs


def test_it_starts_a_sync_in_the_background_and_returns_its_id(
    person_client, queued_runs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = person_client.post(reverse("orchestrator-sync"), {"type": "full"}, format="json")

    assert response.status_code == HTTPStatus.ACCEPTED
    body = response.json()
    assert (body["type"], body["status"], body["requested_by"]) == ("full", "pending", "engineer")
    assert queued_runs == [body["id"]]


def test_it_rejects_an_unknown_sync_type_and_non_people(person_client, key_client, anon_client):
    url = reverse("orchestrator-sync")

    bad = person_client.post(url, {"type": "everything"}, format="json")

    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert "type" in bad.json()["errors"]
    assert key_client("sub").post(url, {"type": "full"}, format="json").status_code == 403
    assert anon_client.post(url, {"type": "full"}, format="json").status_code == 401
    assert not SyncRun.objects.exists()


def test_it_finds_every_break_in_the_data_flow_and_reports_it(settings, tmp_path):
    settings.OUTPUT_ROOT = tmp_path
    settings.MONITOR_ORPHAN_GRACE_SECONDS = 60
    orphan = make_hand(premium=True, age=timedelta(minutes=5))
    fine_hand = make_hand(premium=True, age=timedelta(minutes=5))
    good = make_instruction(status="completed", hand=fine_hand)
    (tmp_path / "good.png").write_bytes(b"x" * 100)
    make_output(good, output_path=str(tmp_path / "good.png"), file_size=100)
    no_output = make_instruction(status="completed")
    missing = make_instruction(status="completed")
    missing_out = make_output(missing, output_path="gone.png", file_size=10)
    wrong = make_instruction(status="completed")
    (tmp_path / "short.png").write_bytes(b"x" * 5)
    wrong_out = make_output(wrong, output_path="short.png", file_size=10)
    run = SyncRun.objects.create(type="full")

    result = sync_execute(run_id=run.pk)

    assert result.status == "partial"
    assert result.problems == 4
    assert result.counts["hands_checked"] == 2
    assert result.counts["files_checked"] == 3
    assert result.counts["files_bad"] == 2
    open_keys = set(
        MonitoringEvent.objects.filter(resolved=False).values_list("dedup_key", flat=True)
    )
    assert open_keys == {
        f"reconcile_missing_instruction:{orphan.pk}",
        f"reconcile_missing_output:{no_output.pk}",
        f"reconcile_file_missing:{missing_out.pk}",
        f"reconcile_file_size:{wrong_out.pk}",
    }
    assert sync_execute(run_id=run.pk) is None  # a second delivery of the task does nothing


def test_it_closes_reconcile_events_once_a_full_run_finds_things_in_order(settings, tmp_path):
    settings.OUTPUT_ROOT = tmp_path
    row = make_instruction(status="completed")
    output = make_output(row, output_path="late.png", file_size=3)
    sync_execute(run_id=SyncRun.objects.create(type="full").pk)
    (tmp_path / "late.png").write_bytes(b"abc")

    second = sync_execute(run_id=SyncRun.objects.create(type="full").pk)

    assert second.status == "completed"
    event = MonitoringEvent.objects.get(dedup_key=f"reconcile_file_missing:{output.pk}")
    assert event.resolved is True


def test_it_checks_only_newer_rows_in_an_incremental_run(settings, tmp_path):
    settings.OUTPUT_ROOT = tmp_path
    old = make_instruction(status="completed", age=timedelta(days=3))
    RenderInstruction.objects.filter(pk=old.pk).update(
        completed_at=timezone.now() - timedelta(days=3)
    )
    sync_execute(run_id=SyncRun.objects.create(type="full").pk)
    fresh = make_instruction(status="completed")

    run = sync_execute(run_id=SyncRun.objects.create(type="incremental").pk)

    assert run.counts["instructions_checked"] == 1
    assert MonitoringEvent.objects.filter(
        dedup_key=f"reconcile_missing_output:{fresh.pk}", resolved=False
    ).exists()


def test_it_reports_every_block_and_the_next_scheduled_runs(person_client, settings):
    settings.MONITOR_PRODUCER_STALE_SECONDS = 300
    make_hand(premium=False)
    make_instruction(status="pending", age=timedelta(hours=1))
    monitor_run()
    sync_execute(run_id=SyncRun.objects.create(type="full").pk)

    response = person_client.get(reverse("orchestrator-status"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    blocks = {b["name"]: b for b in body["blocks"]}
    assert {"ingest", "producer:sub", "producer:ae", "render_queue", "monitor"} <= set(blocks)
    assert {"reconciliation", "output_storage"} <= set(blocks)
    assert blocks["ingest"]["status"] == "in_progress"
    assert blocks["producer:ae"]["status"] == "idle"
    assert blocks["render_queue"]["status"] == "partial"
    assert "pending too long" in blocks["render_queue"]["last_error"]
    assert blocks["monitor"]["status"] == "completed"
    assert body["overall"] == "partial"
    assert body["last_full_sync"]["status"] == "completed"
    assert body["next_run"]["full"] and body["next_run"]["incremental"]


def test_it_runs_the_scheduled_sync_task_body():
    from monitoring.tasks import scheduled_sync

    run_id = scheduled_sync("incremental")

    run = SyncRun.objects.get(pk=run_id)
    assert (run.type, run.status, run.requested_by) == ("incremental", "completed", "schedule")


def test_it_shows_one_sync_run(person_client):
    run = SyncRun.objects.create(type="full")

    assert person_client.get(reverse("orchestrator-run", args=[run.pk])).json()["id"] == run.pk
    assert person_client.get(reverse("orchestrator-run", args=[99999])).status_code == 404
