"""Several real worker processes on one queue: nothing runs twice, nothing is lost."""

from __future__ import annotations

import bisect
import os
import random
import signal
from datetime import timedelta

import pytest
from django.db.models import Count

from automation_hub.models import MonitoringEvent
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.services.instructions import instruction_create
from rendering.services.recovery import instructions_reap_stale, queue_sweep
from tests.rendering.cluster import cluster_env, running_cluster, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JOBS = 2000


def _completed() -> int:
    return RenderInstruction.objects.filter(status=InstructionStatus.COMPLETED).count()


def test_it_drains_2000_jobs_with_4_worker_processes_exactly_once(tmp_path):
    rng = random.Random(7)
    for n in range(JOBS):
        instruction_create(
            template_name="bench", priority=rng.randint(1, 10), layer_data={"n": n}
        )  # each dispatched on commit
    queue_sweep()  # duplicate wake-ups on top: they must find nothing extra to do
    env = cluster_env(workers=4, backend="noop", output_root=tmp_path)
    with running_cluster(env):
        wait_for(lambda: _completed() == JOBS, timeout=240, what=f"{JOBS} completed jobs")
    assert not RenderInstruction.objects.exclude(status=InstructionStatus.COMPLETED).exists()
    assert RenderOutput.objects.count() == JOBS
    assert not RenderOutput.objects.values("instruction").annotate(n=Count("id")).filter(n__gt=1)
    workers = set(RenderInstruction.objects.values_list("claimed_by", flat=True))
    assert len(workers) >= 2, workers  # the work really was shared between processes
    # Claim order: every job was waiting before the workers started, so a job may start ahead
    # of a more urgent one only while claims race (a worker stamps started_at just before its
    # claim takes the lock, and a loaded machine can pause a process right there): never by more
    # than a few seconds of a drain that takes a minute (claims in arrival order would be
    # overtaken by most of it).
    claims = list(RenderInstruction.objects.values_list("started_at", "priority"))
    overtaken = _overtaken(claims, slack=timedelta(seconds=5))
    assert overtaken == [], f"{len(overtaken)} claims ran ahead of a more urgent job"


def _overtaken(claims, *, slack):
    """Claims that started more than `slack` before a more urgent job was claimed."""
    ordered = sorted(claims)
    result = []
    # suffix[i]: the most urgent priority among the claims from position i on.
    suffix = [11] * (len(ordered) + 1)
    for i in range(len(ordered) - 1, -1, -1):
        suffix[i] = min(ordered[i][1], suffix[i + 1])
    starts = [s for s, _ in ordered]
    for started, priority in ordered:
        j = bisect.bisect_right(starts, started + slack)
        if suffix[j] < priority:
            result.append((started, priority))
    return result


def test_it_recovers_a_job_whose_worker_was_killed_mid_render(tmp_path):
    slow = instruction_create(
        template_name="premium_hand",
        layer_data={"winner": "Alice", "hand_rank_label": "Royal Flush", "pot_size": 10},
        output_settings={"format": "PNG", "resolution": "1280x720", "frame_count": 120},
    )[0]
    env = cluster_env(workers=1, backend="preview", output_root=tmp_path)
    with running_cluster(env):
        wait_for(
            lambda: RenderInstruction.objects.filter(
                pk=slow.pk, status=InstructionStatus.PROCESSING, render_progress__gt=0
            ).exists(),
            timeout=60,
            what="the render to start",
        )
        slow.refresh_from_db()
        holder = slow.claimed_by
        os.kill(int(holder.rsplit(":", 1)[1]), signal.SIGKILL)  # the worker dies mid-render
        wait_for(
            lambda: instructions_reap_stale(timeout_seconds=2)["recovered"] == 1,
            timeout=30,
            what="the zombie hunter to recover the job",
            interval=0.5,
        )
        wait_for(
            lambda: RenderInstruction.objects.filter(
                pk=slow.pk, status=InstructionStatus.COMPLETED
            ).exists(),
            timeout=90,
            what="the recovered job to complete",
        )
    slow.refresh_from_db()
    assert slow.retry_count == 1 and slow.claimed_by != holder
    output = RenderOutput.objects.get(instruction=slow)
    assert output.frame_count == 120 and output.file_size > 0
    event = MonitoringEvent.objects.get(code="stuck_job_recovered")
    assert event.instruction_id == slow.pk and holder in event.message
