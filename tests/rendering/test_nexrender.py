"""The Nexrender backend against the real @nexrender/server on loopback, in one process: a
render worker submits (or adopts) the job and hands it off, the follower follows it, simulated
AE machines (tests/nexrender/farm.py) render it. Each test ends with the AE renders it expects
and no job left on the server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from automation_hub.models import MonitoringEvent
from rendering.models import (
    BreakerState,
    CircuitBreaker,
    InstructionStatus,
    RenderInstruction,
    RenderOutput,
)
from rendering.renderers.nexrender import FOLLOWER_INBOX, nexrender_job
from rendering.services.nexrender_follower import NexrenderFollower
from rendering.services.recovery import instructions_retry_due
from rendering.services.transitions.lease import instruction_release
from rendering.services.transitions.manual import instruction_cancel
from rendering.services.transitions.table import Actor
from rendering.services.worker import queue_work
from tests.conftest import require_service
from tests.nexrender.farm import Farm
from tests.private_servers import NexrenderServer, free_port
from tests.rendering.nexrender_peer import (
    SECRET,
    CrashingAeWorker,
    nexrender_server,
    stalling_proxy,
)

pytestmark = pytest.mark.django_db

PRODUCER = Actor(name="producer", via="api")


@pytest.fixture
def port(settings) -> int:
    require_service("Nexrender server (node)", NexrenderServer.missing())
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
def server(port, tmp_path) -> Iterator[str]:
    with nexrender_server(port, tmp_path / "nexrender" / "database.js") as url:
        yield url


@pytest.fixture
def farm(server) -> Iterator[Farm]:
    with Farm(server, SECRET, machines=2, render_seconds=0.2, poll_seconds=0.05) as farm:
        yield farm


def jobs_on_server(url: str) -> list:
    return httpx.get(f"{url}/api/v1/jobs/status", headers={"nexrender-secret": SECRET}).json()


def follow(
    condition: Callable[[], bool],
    *,
    follower: NexrenderFollower | None = None,
    timeout: float = 20,
) -> NexrenderFollower:
    """Tick the follower (as its process does) until `condition` holds."""
    follower = follower or NexrenderFollower()
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out following the farm"
        time.sleep(min(follower.tick(), 0.5))
    return follower


def status_of(row: RenderInstruction) -> str:
    row.refresh_from_db()
    return row.status


def test_it_renders_through_nexrender_without_pinning_a_worker_and_cleans_up(server, farm):
    row = make(output_settings={"format": "MP4", "frame_count": 90})
    assert queue_work(budget_seconds=10, worker_id="w1") == 1  # returns once submitted
    row.refresh_from_db()
    assert row.status == InstructionStatus.PROCESSING and row.claimed_by == FOLLOWER_INBOX
    assert row.external_id.startswith(f"hub-{row.pk}-")
    follow(lambda: status_of(row) == InstructionStatus.COMPLETED)
    assert row.render_progress == 100
    output = RenderOutput.objects.get(instruction=row)
    path = Path(output.output_path)
    assert path.suffix == ".mp4" and output.file_size == path.stat().st_size > 0
    assert output.frame_count == 90
    assert b"'value': 'Alice'" in path.read_bytes()  # the layer data reached the template
    assert farm.renders_of(row.external_id) == 1
    assert jobs_on_server(server) == []  # finished jobs are deleted from the server


def test_it_fails_with_the_servers_message_then_retries(server, farm):
    row = make(template_name="broken_lower_third")
    queue_work(budget_seconds=10, worker_id="w1")
    follow(lambda: status_of(row) == InstructionStatus.FAILED)
    assert "composition not found" in row.error_message
    assert row.next_attempt_at is not None and jobs_on_server(server) == []
    RenderInstruction.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1),
        template_name="lower_third",  # the template got fixed
    )
    assert instructions_retry_due() == 1
    queue_work(budget_seconds=10, worker_id="w1")
    follow(lambda: status_of(row) == InstructionStatus.COMPLETED)
    assert row.retry_count == 1 and jobs_on_server(server) == []


def test_it_rejects_an_invalid_job_for_good(server):
    row = make(layer_data={"": "no layer name"})
    queue_work(budget_seconds=10, worker_id="w1")
    row.refresh_from_db()
    assert row.status == InstructionStatus.FAILED
    assert row.error_message.startswith("Nexrender refused the job")
    assert row.next_attempt_at is None and jobs_on_server(server) == []


def test_it_opens_the_breaker_while_the_server_is_down_and_a_health_check_closes_it(
    port, tmp_path, settings
):
    rows = [make(priority=p) for p in (1, 2, 3)]
    queue_work(budget_seconds=10, worker_id="w1")  # nothing listens on the port
    for row in rows:
        assert status_of(row) == InstructionStatus.PENDING and row.retry_count == 0
    breaker = CircuitBreaker.objects.get(backend="nexrender")
    assert breaker.state == BreakerState.OPEN
    assert MonitoringEvent.objects.filter(code="circuit_opened").count() == 1
    assert queue_work(budget_seconds=10, worker_id="w1") == 0  # jobs wait, nothing claimed
    CircuitBreaker.objects.filter(pk=breaker.pk).update(
        opened_at=timezone.now() - timedelta(seconds=settings.RENDER_BREAKER_RESET_SECONDS)
    )
    assert queue_work(budget_seconds=10, worker_id="w1") == 0  # the trial: a failed health check
    assert CircuitBreaker.objects.get(pk=breaker.pk).state == BreakerState.OPEN
    with nexrender_server(port, tmp_path / "nx" / "database.js") as url, Farm(url, SECRET) as farm:
        CircuitBreaker.objects.filter(pk=breaker.pk).update(
            opened_at=timezone.now() - timedelta(seconds=settings.RENDER_BREAKER_RESET_SECONDS)
        )
        assert queue_work(budget_seconds=20, worker_id="w1") == 3  # health check, then all
        follow(lambda: all(status_of(r) == InstructionStatus.COMPLETED for r in rows))
        assert sorted(farm.renders_per_instruction().values()) == [1, 1, 1]
        assert jobs_on_server(url) == []
    assert all(row.retry_count == 0 for row in rows)
    assert CircuitBreaker.objects.get(pk=breaker.pk).state == BreakerState.CLOSED


def test_it_builds_one_text_layer_per_value():
    row = make(priority=2)
    job = nexrender_job(row, uid="u1", target=Path("/nas/out/1.png"))
    layers = {a["layerName"]: a["value"] for a in job["assets"]}
    assert layers["winner"] == "Alice" and layers["players_2_name"] == "Bob"
    assert layers["community_cards_1"] == "Qs" and layers["community_cards"].startswith("Qs Js")
    assert job["template"]["src"].endswith("/premium_hand.aep") and job["priority"] == 9


def test_it_keeps_the_job_uid_across_a_release_and_adopts_the_queued_job(server):
    row = make()
    queue_work(budget_seconds=10, worker_id="w1")  # submitted; no AE machine yet
    row.refresh_from_db()
    uid = row.external_id
    assert instruction_release(
        instruction_id=row.pk, worker_id=FOLLOWER_INBOX, lease_id=row.lease_id, reason="test"
    )
    assert status_of(row) == InstructionStatus.PENDING and row.external_id == uid
    queue_work(budget_seconds=10, worker_id="w2")  # asks the server first: adopts the job
    row.refresh_from_db()
    assert row.external_id == uid and [j["uid"] for j in jobs_on_server(server)] == [uid]
    with Farm(server, SECRET, poll_seconds=0.05) as farm:
        follow(lambda: status_of(row) == InstructionStatus.COMPLETED)
    assert farm.renders_of(uid) == 1 and jobs_on_server(server) == []


def test_it_completes_a_job_that_finished_while_nobody_followed_it_without_rendering_again(
    server,
):
    row = make()
    with Farm(server, SECRET, poll_seconds=0.05) as farm:
        queue_work(budget_seconds=10, worker_id="w1")
        row.refresh_from_db()
        uid = row.external_id
        deadline = time.monotonic() + 10
        while farm.renders_of(uid) == 0:  # the AE machine finishes; no follower runs
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)
        instruction_release(
            instruction_id=row.pk, worker_id=FOLLOWER_INBOX, lease_id=row.lease_id, reason="t"
        )
        queue_work(budget_seconds=10, worker_id="w2")
        row.refresh_from_db()
    assert row.status == InstructionStatus.COMPLETED, row.error_message
    assert farm.renders_of(uid) == 1 and jobs_on_server(server) == []


def test_it_counts_a_previous_jobs_error_as_a_failed_attempt(server):
    row = make(template_name="broken_lower_third")
    with Farm(server, SECRET, poll_seconds=0.05) as farm:
        queue_work(budget_seconds=10, worker_id="w1")
        row.refresh_from_db()
        deadline = time.monotonic() + 10
        while not any(j["state"] == "error" for j in jobs_on_server(server)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        instruction_release(
            instruction_id=row.pk, worker_id=FOLLOWER_INBOX, lease_id=row.lease_id, reason="t"
        )
        queue_work(budget_seconds=10, worker_id="w2")
    assert status_of(row) == InstructionStatus.FAILED and "composition not found" in (
        row.error_message
    )
    assert row.next_attempt_at is not None  # a retry at its backoff
    assert len(farm.log()) == 1 and jobs_on_server(server) == []


def test_it_submits_again_under_the_same_uid_when_the_server_lost_the_job(port, tmp_path):
    row = make()
    with nexrender_server(port, tmp_path / "a" / "database.js"):
        queue_work(budget_seconds=10, worker_id="w1")
    row.refresh_from_db()
    uid = row.external_id
    instruction_release(
        instruction_id=row.pk, worker_id=FOLLOWER_INBOX, lease_id=row.lease_id, reason="t"
    )
    # A server with an empty database: the job is unknown there.
    with nexrender_server(port, tmp_path / "b" / "database.js") as url, Farm(url, SECRET) as farm:
        queue_work(budget_seconds=10, worker_id="w2")
        follow(lambda: status_of(row) == InstructionStatus.COMPLETED)
        assert row.external_id == uid and farm.renders_of(uid) == 1
        assert jobs_on_server(url) == []


def test_it_deletes_the_job_of_an_instruction_cancelled_during_its_render(server):
    row = make()
    with Farm(server, SECRET, render_seconds=1.5, poll_seconds=0.05) as farm:
        queue_work(budget_seconds=10, worker_id="w1")
        follower = follow(
            lambda: status_of(row) == InstructionStatus.PROCESSING and (row.render_progress > 0)
        )
        instruction_cancel(instruction_id=row.pk, reason="hand was a misdeal", actor=PRODUCER)
        follow(lambda: jobs_on_server(server) == [], follower=follower)
        time.sleep(2)  # the AE machine's render under way ends; nothing picks it again
    assert status_of(row) == InstructionStatus.CANCELLED
    assert len(farm.picked) == 1 and jobs_on_server(server) == []


def test_it_releases_a_job_left_queued_on_a_saturated_farm_without_spending_a_retry(
    server, settings
):
    settings.NEXRENDER_QUEUED_SECONDS = 0.5
    row = make()
    queue_work(budget_seconds=10, worker_id="w1")  # no AE machine takes it
    follow(lambda: status_of(row) == InstructionStatus.PENDING)
    assert row.retry_count == 0 and "saturated" in row.error_message
    event = MonitoringEvent.objects.get(code="farm_saturated", instruction_id=row.pk)
    assert event.details["actor"] == "render queue"
    assert jobs_on_server(server) == []  # not picked while it waits in the hub's queue


def test_it_follows_through_a_status_poll_that_times_out_once(server, settings):
    settings.NEXRENDER_HTTP_TIMEOUT_SECONDS = 0.5
    row = make()
    with stalling_proxy(server, path="/api/v1/jobs/status", stall_seconds=2) as proxy:
        settings.NEXRENDER_URL = proxy.url
        with Farm(server, SECRET, render_seconds=0.5, poll_seconds=0.05) as farm:
            queue_work(budget_seconds=10, worker_id="w1")
            row.refresh_from_db()
            proxy.arm()  # the next status poll hangs past the client's timeout
            follower = NexrenderFollower()
            follower.tick()
            assert follower.failures == 1 and status_of(row) == InstructionStatus.PROCESSING
            follow(lambda: status_of(row) == InstructionStatus.COMPLETED, follower=follower)
    assert proxy.stalled == 1
    assert farm.renders_of(row.external_id) == 1 and jobs_on_server(server) == []


def test_it_requeues_a_job_an_ae_machine_left_started_and_another_finishes_it(
    server, settings, caplog
):
    settings.NEXRENDER_STUCK_SECONDS = 1
    row = make()
    crashed = CrashingAeWorker(server, jobs=1)
    crashed.start()
    queue_work(budget_seconds=10, worker_id="w1")
    crashed.join(10)
    with Farm(server, SECRET, poll_seconds=0.05) as healthy:
        follow(lambda: status_of(row) == InstructionStatus.COMPLETED)
    assert crashed.picked == [row.external_id] and healthy.renders_of(row.external_id) == 1
    assert row.retry_count == 0  # re-queued on the server, not a hub retry
    assert "stuck in started: re-queued" in caplog.text
    assert jobs_on_server(server) == []


def test_it_fails_a_job_still_stuck_after_its_requeues(server, settings):
    settings.NEXRENDER_STUCK_SECONDS = 1
    settings.NEXRENDER_MAX_REQUEUES = 1
    row = make()
    crashed = CrashingAeWorker(server, jobs=2)  # takes it, and takes it again after re-queue
    crashed.start()
    queue_work(budget_seconds=10, worker_id="w1")
    follow(lambda: status_of(row) == InstructionStatus.FAILED)
    crashed.stop()
    assert "stuck in started after 1 re-queues" in row.error_message
    assert len(crashed.picked) == 2
    assert jobs_on_server(server) == []  # the hopeless job no longer holds an AE machine


def test_it_keeps_no_more_than_max_in_flight_jobs_on_the_server(server, settings):
    settings.NEXRENDER_MAX_IN_FLIGHT = 3
    rows = [make(priority=p) for p in (5, 5, 5, 5, 1)]
    queue_work(budget_seconds=10, worker_id="w1")
    jobs = jobs_on_server(server)
    assert len(jobs) == 3  # the rest wait in the hub's queue, in priority order
    assert status_of(rows[4]) == InstructionStatus.PROCESSING  # priority 1 went first
    with Farm(server, SECRET, machines=3, poll_seconds=0.05) as farm:
        follower = NexrenderFollower()
        deadline = time.monotonic() + 30
        while not all(status_of(r) == InstructionStatus.COMPLETED for r in rows):
            assert time.monotonic() < deadline
            follower.tick()
            queue_work(budget_seconds=1, worker_id="w1")  # the wake-up a freed slot sends
            assert len(jobs_on_server(server)) <= 3
            time.sleep(0.05)
    assert sorted(farm.renders_per_instruction().values()) == [1] * 5
    assert jobs_on_server(server) == []


def make(**fields) -> RenderInstruction:
    from tests.rendering.helpers import make_instruction

    return make_instruction(**fields)
