"""The Nexrender backend against the real @nexrender/server on loopback."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from automation_hub.models import MonitoringEvent
from rendering.models import BreakerState, CircuitBreaker, InstructionStatus, RenderOutput
from rendering.renderers.nexrender import nexrender_job
from rendering.services.recovery import instructions_retry_due
from rendering.services.worker import queue_work
from tests.conftest import require_service
from tests.rendering.helpers import make_instruction
from tests.rendering.nexrender_peer import (
    SECRET,
    AeWorker,
    CrashingAeWorker,
    free_port,
    nexrender_server,
    server_unavailable,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def port(settings) -> int:
    require_service("Nexrender server (node)", server_unavailable())
    port = free_port()
    settings.RENDER_BACKEND = "nexrender"
    settings.NEXRENDER_URL = f"http://127.0.0.1:{port}"
    settings.NEXRENDER_SECRET = SECRET
    settings.NEXRENDER_POLL_SECONDS = 0.05
    settings.NEXRENDER_HTTP_TIMEOUT_SECONDS = 2
    settings.RENDER_BREAKER_THRESHOLD = 2
    settings.RENDER_RETRY_POLICIES = {"default": {"strategy": "fixed", "base_delay": 30}}
    return port


@pytest.fixture
def server(port, tmp_path):
    with nexrender_server(port, tmp_path / "nexrender" / "database.js") as url:
        worker = AeWorker(url)
        worker.start()
        yield url
        worker.stop()


def _jobs_on_server(url: str) -> list:
    return httpx.get(f"{url}/api/v1/jobs", headers={"nexrender-secret": SECRET}).json()


def test_it_renders_through_nexrender_and_cleans_up(server):
    row = make_instruction(output_settings={"format": "MP4", "frame_count": 90})
    assert queue_work(budget_seconds=10, worker_id="w1") == 1
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED, row.error_message
    assert row.external_id.startswith(f"hub-{row.pk}-") and row.render_progress == 100
    output = RenderOutput.objects.get(instruction=row)
    path = Path(output.output_path)
    assert path.suffix == ".mp4" and output.file_size == path.stat().st_size > 0
    assert output.frame_count == 90
    assert b"'winner': 'Alice'" in path.read_bytes()  # the layer data reached the template
    assert _jobs_on_server(server) == []  # finished jobs are deleted from the server


def test_it_fails_with_the_servers_message_then_retries(server):
    row = make_instruction(output_settings={"format": "PNG", "composition": "broken"})
    queue_work(budget_seconds=10, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.FAILED
    assert "Composition 'broken' not found" in row.error_message
    assert row.next_attempt_at is not None and _jobs_on_server(server) == []
    row.__class__.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1),
        output_settings={"format": "PNG", "composition": "main"},  # the template got fixed
    )
    assert instructions_retry_due() == 1
    queue_work(budget_seconds=10, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED and row.retry_count == 1


def test_it_rejects_an_invalid_job_for_good(server):
    row = make_instruction(layer_data={"": "no layer name"})
    queue_work(budget_seconds=10, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.FAILED
    assert row.error_message.startswith("Nexrender refused the job")
    assert row.next_attempt_at is None


def test_it_opens_the_breaker_while_the_server_is_down_and_resumes_after(port, tmp_path, settings):
    rows = [make_instruction(priority=p) for p in (1, 2, 3)]
    queue_work(budget_seconds=10, worker_id="w1")  # nothing listens on the port
    for row in rows:
        row.refresh_from_db()
        assert row.status == InstructionStatus.PENDING and row.retry_count == 0
    breaker = CircuitBreaker.objects.get(backend="nexrender")
    assert breaker.state == BreakerState.OPEN
    assert MonitoringEvent.objects.filter(code="circuit_opened").count() == 1
    assert queue_work(budget_seconds=10, worker_id="w1") == 0  # jobs wait, nothing claimed
    with nexrender_server(port, tmp_path / "nx" / "database.js") as url:
        worker = AeWorker(url)
        worker.start()
        CircuitBreaker.objects.filter(pk=breaker.pk).update(
            opened_at=timezone.now() - timedelta(seconds=settings.RENDER_BREAKER_RESET_SECONDS)
        )
        assert queue_work(budget_seconds=20, worker_id="w1") == 3  # trial, then the rest
        worker.stop()
    for row in rows:
        row.refresh_from_db()
        assert row.status == InstructionStatus.COMPLETED and row.retry_count == 0
    assert CircuitBreaker.objects.get(pk=breaker.pk).state == BreakerState.CLOSED


def test_it_builds_one_text_layer_per_value():
    row = make_instruction(priority=2)
    job = nexrender_job(row, uid="u1", target=Path("/nas/out/1.png"))
    layers = {a["layerName"]: a["value"] for a in job["assets"]}
    assert layers["winner"] == "Alice" and layers["players_2_name"] == "Bob"
    assert layers["community_cards_1"] == "Qs" and layers["community_cards"].startswith("Qs Js")
    assert job["template"]["src"].endswith("/premium_hand.aep") and job["priority"] == 9


def test_it_requeues_a_job_an_ae_machine_left_started_and_another_finishes_it(
    port, tmp_path, settings, caplog
):
    settings.NEXRENDER_STUCK_SECONDS = 1
    row = make_instruction(output_settings={"format": "PNG"})
    with nexrender_server(port, tmp_path / "nx" / "database.js") as url:
        crashed = CrashingAeWorker(url, jobs=1)
        crashed.start()
        healthy = AeWorker(url)
        # The healthy machine comes up once the other one has taken the job and died.
        threading.Thread(target=lambda: (crashed.join(10), healthy.start()), daemon=True).start()
        assert queue_work(budget_seconds=30, worker_id="w1") == 1
        healthy.stop()
        jobs_left = _jobs_on_server(url)
    row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED, row.error_message
    assert crashed.picked == [row.external_id] and healthy.rendered == [row.external_id]
    assert row.retry_count == 0  # re-queued on the server, not a hub retry
    assert "stuck in started: re-queued" in caplog.text
    assert jobs_left == []


def test_it_fails_a_job_still_stuck_after_its_requeues(port, tmp_path, settings):
    settings.NEXRENDER_STUCK_SECONDS = 1
    settings.NEXRENDER_MAX_REQUEUES = 1
    row = make_instruction(output_settings={"format": "PNG"})
    with nexrender_server(port, tmp_path / "nx" / "database.js") as url:
        crashed = CrashingAeWorker(url, jobs=2)  # takes it, and takes it again after re-queue
        crashed.start()
        queue_work(budget_seconds=30, worker_id="w1")
        crashed.stop()
        jobs_left = _jobs_on_server(url)
    row.refresh_from_db()
    assert row.status == InstructionStatus.FAILED
    assert "stuck in started after 1 re-queues" in row.error_message
    assert len(crashed.picked) == 2
    assert jobs_left == []  # the hopeless job no longer holds an AE machine
