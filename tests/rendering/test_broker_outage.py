"""Redis (the broker) stops during a run and comes back: nothing lost, nothing run twice."""

from __future__ import annotations

import time

import pytest
from django.db.models import Count
from django_q.conf import Conf

from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.services import dispatch
from rendering.services.instructions import instruction_create
from rendering.services.recovery import queue_sweep
from tests.conftest import require_service
from tests.private_servers import PrivateRedis
from tests.rendering.cluster import cluster_env, running_cluster, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_redis(monkeypatch):
    require_service("redis-server", PrivateRedis.missing())
    server = PrivateRedis()
    server.start()
    # This process dispatches through the private Redis too, whichever mode the suite runs in.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", server.url)
    monkeypatch.setattr(dispatch._local, "broker", None, raising=False)
    yield server
    server.stop()
    dispatch._local.broker = None


def _create(count: int, start: int) -> list[int]:
    return [
        instruction_create(template_name="outage", layer_data={"n": start + n})[0].pk
        for n in range(count)
    ]


def _completed() -> int:
    return RenderInstruction.objects.filter(status=InstructionStatus.COMPLETED).count()


def test_it_loses_nothing_and_runs_nothing_twice_across_a_redis_outage(private_redis, tmp_path):
    env = cluster_env(workers=2, backend="noop", output_root=tmp_path, REDIS_URL=private_redis.url)
    with running_cluster(env, log=tmp_path / "cluster.log") as procs:
        _create(100, 0)
        wait_for(lambda: _completed() >= 100, timeout=60, what="the first batch")
        private_redis.stop()
        started = time.monotonic()
        during = _create(100, 100)  # producers keep working: the rows are stored
        assert time.monotonic() - started < 30
        assert RenderInstruction.objects.filter(pk__in=during).count() == 100
        private_redis.start()  # empty: every wake-up sent before the outage is gone too
        wait_for(
            lambda: queue_sweep()["wakeups"] > 0 or _completed() == 200,
            timeout=30,
            what="the sweep to reach the broker again",
            interval=0.5,
        )
        wait_for(lambda: _completed() == 200, timeout=120, what="every job to complete")
        assert all(proc.poll() is None for proc in procs)  # the workers rode out the outage
    assert RenderOutput.objects.count() == 200
    assert not RenderOutput.objects.values("instruction").annotate(n=Count("id")).filter(n__gt=1)
