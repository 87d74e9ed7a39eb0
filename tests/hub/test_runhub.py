"""`manage.py runhub` heals itself: a dead child comes back while the rest keeps serving, a child
that keeps crashing makes it give up, and SIGTERM stops everything in time without losing a render.

Real processes throughout: runhub, daphne, the django-q2 clusters, the Nexrender server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client

from automation_hub.models import HubProcess
from automation_hub.supervisor import ChildSpec, Supervisor
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.instructions import instruction_create
from tests.conftest import redis_unreachable, require_service
from tests.dashboard.processes import BASE_DIR, free_port, hub_env
from tests.nexrender.farm import Farm
from tests.private_servers import NexrenderServer
from tests.rendering.cluster import wait_for
from tests.rendering.nexrender_peer import SECRET, nexrender_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOG_DIR = BASE_DIR / "test-artifacts"


@contextmanager
def running_hub(**env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    if settings.HUB_MODE == "production":
        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    port = free_port()
    LOG_DIR.mkdir(exist_ok=True)
    log = (LOG_DIR / f"runhub-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runhub", "--port", str(port)],
        cwd=BASE_DIR,
        env=hub_env(HUB_HEARTBEAT_SECONDS="0.5", Q_LOG_LEVEL="ERROR", **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        parts = set(PARTS)
        if env.get("RENDER_BACKEND") == "nexrender":
            parts.add("nexrender-follower")
        wait_for(lambda: _ready(url, parts), timeout=60, what="every part of the hub to run")
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


PARTS = ("web", "render-workers", "ops-workers", "queue-supervisor")


def _ready(url: str, parts: set[str]) -> bool:
    try:
        body = httpx.get(f"{url}/api/health/ready", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return body["status"] == "ok" and set(body["processes"]) == parts


def test_it_keeps_the_web_server_answering_while_a_killed_worker_cluster_comes_back(engineer):
    # Signed in (a session of the test database): readiness names a part's state to people only.
    client = Client()
    client.force_login(engineer)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    with running_hub(RUNHUB_BACKOFF_SECONDS="3") as (_, url):
        workers = HubProcess.objects.get(name="render-workers")
        os.killpg(workers.pid, signal.SIGKILL)  # the whole cluster: leader, sentinel, workers

        seen_down, answers = [], []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            page = httpx.get(f"{url}/api/dashboard", cookies=cookies, timeout=3)
            ready = httpx.get(f"{url}/api/health/ready", cookies=cookies, timeout=3)
            answers += [page.status_code, ready.status_code]
            state = ready.json()["processes"]["render-workers"]
            if state != "ok":
                seen_down.append(state)
            elif seen_down:
                break
            time.sleep(0.2)

        assert set(answers) == {HTTPStatus.OK}  # the dashboard API never stopped answering
        assert "restarting after killed by SIGKILL (0 restarts so far)" in seen_down
        assert ready.json()["status"] == "ok"
        workers.refresh_from_db()
        assert workers.restarts == 1
        assert workers.state == HubProcess.State.RUNNING
        assert workers.last_exit == "killed by SIGKILL"


def test_it_stops_within_10_s_leaves_the_job_on_the_farm_and_the_next_start_adopts_it(
    engineer, tmp_path
):
    require_service("Nexrender server", NexrenderServer.missing())
    port = free_port()
    env = {
        "RENDER_BACKEND": "nexrender",
        "NEXRENDER_SECRET": SECRET,
        "NEXRENDER_POLL_SECONDS": "0.2",
        "OUTPUT_ROOT": str(tmp_path / "out"),
    }
    # No AE machine runs yet: the job waits queued on the server while the hub follows it.
    with nexrender_server(port, tmp_path / "nexrender" / "db.js") as nexrender_url:
        env["NEXRENDER_URL"] = nexrender_url
        with running_hub(**env) as (proc, _):
            instruction, _ = instruction_create(template_name="lower_third", layer_data={"n": 1})
            follower = wait_for(
                lambda: HubProcess.objects.filter(name="nexrender-follower").first(),
                timeout=30,
                what="the follower's heartbeat row",
            )
            wait_for(
                lambda: RenderInstruction.objects.filter(
                    pk=instruction.pk,
                    status=InstructionStatus.PROCESSING,
                    claimed_by=f"{follower.host}:{follower.pid}",  # the follower's own lease
                ).exclude(external_id=""),
                timeout=30,
                what="the follower to follow the submitted job",
            )
            leaders = set(HubProcess.objects.values_list("pid", flat=True))
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            took = time.monotonic() - started
        assert proc.returncode == 0
        assert took < 10, took
        instruction.refresh_from_db()
        uid = instruction.external_id
        assert instruction.status == InstructionStatus.PENDING
        assert instruction.retry_count == 0  # the hub stopped: no retry spent
        assert "stopped with the hub" in instruction.error_message
        assert [j["uid"] for j in _jobs(nexrender_url)] == [uid]  # the job stays on the farm
        assert set(HubProcess.objects.values_list("state", flat=True)) == {"stopped"}
        assert not _processes_in_groups(leaders)  # no worker, sentinel or daphne left behind
        with Farm(nexrender_url, SECRET) as farm, running_hub(**env):
            wait_for(
                lambda: RenderInstruction.objects.filter(
                    pk=instruction.pk, status=InstructionStatus.COMPLETED
                ).exists(),
                timeout=60,
                what="the next start to adopt and complete the job",
            )
            wait_for(lambda: _jobs(nexrender_url) == [], timeout=10, what="the job deleted")
        instruction.refresh_from_db()
        assert instruction.external_id == uid and farm.renders_of(uid) == 1


def _jobs(url: str) -> list:
    return httpx.get(f"{url}/api/v1/jobs/status", headers={"nexrender-secret": SECRET}).json()


def _processes_in_groups(groups: set[int]) -> list[int]:
    """Live processes whose process group is one of `groups` (each child leads its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) in groups and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def test_it_gives_up_after_repeated_fast_crashes(settings):
    settings.RUNHUB_BACKOFF_SECONDS = 0.05
    settings.RUNHUB_MAX_FAST_CRASHES = 3
    settings.HUB_HEARTBEAT_SECONDS = 0.2
    lines: list[str] = []
    crashing = ChildSpec("crashing", [sys.executable, "-c", "raise SystemExit(3)"])
    steady = ChildSpec("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([crashing, steady], say=lines.append)

    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < 10
    assert lines.count("crashing: restarting (restart 1)") == 1
    assert any("3 fast crashes in a row: giving up" in line for line in lines)
    rows = {row.name: row for row in HubProcess.objects.all()}
    assert rows["crashing"].state == HubProcess.State.FAILED
    assert rows["crashing"].last_exit == "exit code 3"
    assert rows["crashing"].restarts == 2
    assert rows["steady"].state == HubProcess.State.STOPPED  # stopped with the hub
