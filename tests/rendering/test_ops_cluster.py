"""The hub's own work never waits behind renders: schedules and background tasks run on the ops
cluster while every render worker is busy with long renders (real clusters, the built-in renderer
drawing 600-frame sequences, so the render worker stays busy for the whole test)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule, Task

from automation_hub.schedules import ops_async_task, schedule_every_minutes
from monitoring.services.retention import PRUNE_SCHEDULE, retention_schedules_ensure
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.instructions import instruction_create
from rendering.services.recovery import queue_schedules_ensure
from tests.conftest import redis_unreachable, require_service
from tests.rendering.cluster import ROOT, cluster_env, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DETECTORS = "monitoring: detectors"
LONG_RENDER = {"format": "PNG", "frame_count": 600, "resolution": "1920x1080"}


def start_workers(cluster: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "runworkers", cluster],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,
    )


def test_it_runs_schedules_and_hub_tasks_while_every_render_worker_is_busy(tmp_path):
    if settings.HUB_MODE == "production":
        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    names = [*queue_schedules_ensure(), *retention_schedules_ensure()]
    names.append(
        schedule_every_minutes(name=DETECTORS, func="monitoring.tasks.run_detectors", minutes=1)
    )
    assert set(Schedule.objects.values_list("cluster", flat=True)) == {settings.Q_OPS_CLUSTER}

    # One render worker and a backlog of long renders: it is busy from the first claim to the end.
    env = cluster_env(workers=1, backend="preview", output_root=tmp_path / "out")
    log = tmp_path / "clusters.log"
    backlog = [
        instruction_create(
            template_name="long_render", layer_data={"n": n}, output_settings=LONG_RENDER
        )[0].pk
        for n in range(12)
    ]
    procs = [start_workers("render", env, log), start_workers("ops", env, log)]

    def busy() -> bool:
        """The render worker holds a job."""
        return RenderInstruction.objects.filter(status=InstructionStatus.PROCESSING).exists()

    try:
        wait_for(busy, timeout=30, what="the only render worker to be busy")

        # A background task of the hub goes straight through the ops queue ...
        ops_async_task("monitoring.tasks.run_detectors", task_name="while-rendering")
        wait_for(
            lambda: busy() and Task.objects.filter(name="while-rendering", success=True).exists(),
            timeout=20,
            what="the hub's task to run beside the render",
        )
        # ... and every schedule, made due now, runs on the ops cluster's scheduler.
        Schedule.objects.update(next_run=timezone.now())
        wait_for(
            lambda: (
                busy()
                and (
                    set(
                        Task.objects.filter(group__in=names, success=True).values_list(
                            "group", flat=True
                        )
                    )
                    == set(names)
                )
            ),
            timeout=75,
            what=f"the schedules {names} to run",
        )
        ran_on = set(Task.objects.filter(group__in=names).values_list("cluster", flat=True))
        assert ran_on == {settings.Q_OPS_CLUSTER}
        assert PRUNE_SCHEDULE in names

        # The render worker was busy all along and renders still wait behind it: the hub's own
        # work did not take a render slot, nor wait for one. (How many of the backlog a render
        # worker got through meanwhile depends on the machine's speed, and a loaded machine may
        # let a lease lapse: only "some still wait" is the machine's to keep.)
        waiting = RenderInstruction.objects.filter(
            pk__in=backlog, status=InstructionStatus.PENDING
        ).count()
        assert waiting >= 1, "the render worker got through the backlog: nothing proves it busy"
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
