"""The Nexrender path with real processes: the real @nexrender/server, a farm of simulated AE
machines (tests/nexrender/farm.py), a django-q2 render cluster of 2 workers, the queue supervisor
and the nexrender follower. Faults are real too: processes SIGKILLed or frozen, the server
stopped mid-batch, a submit held up while its worker dies. Every test ends with one AE render per
instruction and no job left on the server."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from rendering.models import InstructionStatus, RenderInstruction
from rendering.renderers.nexrender import FOLLOWER_INBOX
from rendering.services.instructions import instruction_create
from tests.conftest import require_service
from tests.nexrender.farm import Farm
from tests.private_servers import NexrenderServer, free_port
from tests.rendering.cluster import cluster_env, running_cluster, running_supervisor, wait_for
from tests.rendering.nexrender_peer import (
    SECRET,
    nexrender_server,
    stalling_proxy,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

S = InstructionStatus


@pytest.fixture
def port() -> int:
    require_service("Nexrender server (node)", NexrenderServer.missing())
    return free_port()


def hub_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    settings = {
        "NEXRENDER_URL": url,
        "NEXRENDER_SECRET": SECRET,
        "NEXRENDER_POLL_SECONDS": "0.2",
        "NEXRENDER_HTTP_TIMEOUT_SECONDS": "2",
        "RENDER_HEARTBEAT_SECONDS": "0.5",
        "RENDER_REAP_INTERVAL_SECONDS": "0.5",
        "RENDER_BREAKER_RESET_SECONDS": "2",
    }
    return cluster_env(
        workers=2, backend="nexrender", output_root=tmp_path / "out", **{**settings, **extra}
    )


@contextmanager
def follower(env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    with running_cluster(env, log=tmp_path / "follower.log", command="nexrender_follower") as (
        proc,
    ):
        yield proc


def jobs_on_server(url: str) -> list:
    return httpx.get(f"{url}/api/v1/jobs/status", headers={"nexrender-secret": SECRET}).json()


def create(n: int) -> list[int]:
    return [
        instruction_create(template_name="lower_third", layer_data={"n": i})[0].pk
        for i in range(n)
    ]


def all_completed(ids: list[int]) -> bool:
    return RenderInstruction.objects.filter(pk__in=ids, status=S.COMPLETED).count() == len(ids)


def followed_by_a_follower(ids: list[int]) -> bool:
    held = RenderInstruction.objects.filter(pk__in=ids, status=S.PROCESSING)
    return held.count() == len(ids) and not held.filter(claimed_by=FOLLOWER_INBOX).exists()


def assert_once_each_and_nothing_left(farm: Farm, ids: list[int], url: str) -> None:
    assert farm.renders_per_instruction() == dict.fromkeys(ids, 1)
    wait_for(lambda: jobs_on_server(url) == [], timeout=10, what="the server to be empty")


def test_it_keeps_8_ae_machines_busy_with_2_hub_workers(port, tmp_path):
    with ExitStack() as stack:
        url = stack.enter_context(nexrender_server(port, tmp_path / "nx" / "db.js"))
        farm = stack.enter_context(Farm(url, SECRET, machines=8, render_seconds=1.5))
        env = hub_env(tmp_path, url)
        stack.enter_context(running_cluster(env, log=tmp_path / "workers.log"))
        stack.enter_context(running_supervisor(env))
        stack.enter_context(follower(env, tmp_path))
        ids = create(24)
        busiest, deadline = 0, time.monotonic() + 60
        while not all_completed(ids):
            assert time.monotonic() < deadline, "the batch did not finish"
            busiest = max(busiest, farm.busy)
            time.sleep(0.05)
        assert busiest == 8  # every AE machine rendered at once, with 2 hub workers
        assert_once_each_and_nothing_left(farm, ids, url)
    assert RenderInstruction.objects.filter(pk__in=ids, retry_count=0).count() == 24


def test_it_finishes_a_batch_across_a_server_outage(port, tmp_path):
    database = tmp_path / "nx" / "db.js"
    with ExitStack() as stack:
        env = hub_env(tmp_path, f"http://127.0.0.1:{port}")
        with nexrender_server(port, database) as url:
            farm = stack.enter_context(Farm(url, SECRET, machines=4, render_seconds=1.0))
            stack.enter_context(running_cluster(env, log=tmp_path / "workers.log"))
            stack.enter_context(running_supervisor(env))
            stack.enter_context(follower(env, tmp_path))
            ids = create(8)
            wait_for(lambda: len(farm.log()) >= 1, timeout=30, what="the first render")
        time.sleep(4)  # the server is down: AE machines keep polling, the follower retries
        with nexrender_server(port, database):
            wait_for(lambda: all_completed(ids), timeout=60, what="the batch after the outage")
            assert_once_each_and_nothing_left(farm, ids, url)


@pytest.mark.parametrize("when", ["queued", "started", "just finished"])
def test_it_takes_over_the_jobs_of_a_follower_killed_while_they_were(port, tmp_path, when):
    with ExitStack() as stack:
        url = stack.enter_context(nexrender_server(port, tmp_path / "nx" / "db.js"))
        env = hub_env(tmp_path, url)
        stack.enter_context(running_cluster(env, log=tmp_path / "workers.log"))
        stack.enter_context(running_supervisor(env))
        first = stack.enter_context(follower(env, tmp_path))
        farm = Farm(url, SECRET, machines=3, render_seconds=2.0 if when == "started" else 0.3)
        stack.callback(farm.stop)
        if when != "queued":
            farm.start()
        ids = create(3)
        wait_for(lambda: followed_by_a_follower(ids), timeout=30, what="the follower's leases")
        if when == "started":
            wait_for(
                lambda: sum(j["state"] != "queued" for j in jobs_on_server(url)) == 3,
                timeout=20,
                what="the AE machines to start",
            )
        if when == "just finished":
            os.kill(first.pid, signal.SIGSTOP)  # it does not see the renders end
            wait_for(lambda: len(farm.log()) == 3, timeout=20, what="the renders")
            wait_for(
                lambda: {j["state"] for j in jobs_on_server(url)} == {"finished"},
                timeout=10,
                what="the jobs to finish",
            )
        os.kill(first.pid, signal.SIGKILL)
        stack.enter_context(follower(env, tmp_path))
        if when == "queued":
            farm.start()
        wait_for(lambda: all_completed(ids), timeout=60, what="the jobs to complete")
        assert_once_each_and_nothing_left(farm, ids, url)


def test_it_reaps_a_frozen_follower_and_another_one_finishes_its_jobs(port, tmp_path):
    with ExitStack() as stack:
        url = stack.enter_context(nexrender_server(port, tmp_path / "nx" / "db.js"))
        env = hub_env(tmp_path, url, RENDER_ZOMBIE_TIMEOUT_SECONDS="3")
        stack.enter_context(running_cluster(env, log=tmp_path / "workers.log"))
        stack.enter_context(running_supervisor(env))
        frozen = stack.enter_context(follower(env, tmp_path))
        # Renders long enough that neither can finish before the follower freezes, however
        # loaded the machine is: both jobs are reaped, then adopted by the other follower.
        farm = stack.enter_context(Farm(url, SECRET, machines=2, render_seconds=15.0))
        ids = create(2)
        wait_for(lambda: followed_by_a_follower(ids), timeout=30, what="the follower's leases")
        os.kill(frozen.pid, signal.SIGSTOP)  # alive but silent: a zombie
        stack.enter_context(follower(env, tmp_path))
        wait_for(
            lambda: RenderInstruction.objects.filter(pk__in=ids, retry_count=1).count() == 2,
            timeout=30,
            what="the zombie's jobs reaped",
        )
        os.kill(frozen.pid, signal.SIGCONT)  # it wakes up to find its leases gone
        wait_for(lambda: all_completed(ids), timeout=60, what="the jobs to complete")
        assert_once_each_and_nothing_left(farm, ids, url)


def test_it_adopts_the_job_of_a_worker_killed_while_submitting_it(port, tmp_path):
    with ExitStack() as stack:
        url = stack.enter_context(nexrender_server(port, tmp_path / "nx" / "db.js"))
        proxy = stack.enter_context(stalling_proxy(url, path="/api/v1/jobs", stall_seconds=3))
        proxy.arm()  # the first submit hangs; the server takes it after its worker died
        env = hub_env(tmp_path, proxy.url, NEXRENDER_HTTP_TIMEOUT_SECONDS="30")
        stack.enter_context(running_supervisor(env))
        stack.enter_context(follower(env, tmp_path))
        farm = stack.enter_context(Farm(url, SECRET, machines=1, render_seconds=0.3))
        with running_cluster(env, log=tmp_path / "workers.log") as (workers,):
            (pk,) = create(1)
            wait_for(lambda: proxy.stalled == 1, timeout=30, what="the submit to hang")
            uid = RenderInstruction.objects.get(pk=pk).external_id
            assert uid  # stored before the submit
            os.killpg(workers.pid, signal.SIGKILL)
        wait_for(lambda: farm.renders_of(uid) == 1, timeout=20, what="the submitted job rendered")
        with running_cluster(env, log=tmp_path / "workers.log"):
            wait_for(lambda: all_completed([pk]), timeout=60, what="the job to complete")
        assert RenderInstruction.objects.get(pk=pk).external_id == uid
        assert_once_each_and_nothing_left(farm, [pk], url)
