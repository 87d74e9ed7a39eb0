"""How fast the render queue recovers, on default settings, with real processes.

* kill: a worker process is SIGKILLed while it renders a job; measured is the time until another
  worker renders that job again (its row PROCESSING under a new holder). Repeated `--kills` times.
* hang: the same with SIGSTOP (alive but silent, as a hung or cut-off worker): only the lease
  timeout can tell. Repeated `--hangs` times.
* retry: a failed job's backoff ends; measured is how late its retry starts (`started_at` minus
  the end of the backoff). Repeated `--retries` times.

Runs 2 worker processes (`manage.py qcluster`) and the queue supervisor, as `make run` does, on a
throw-away database (embedded mode, or production with DATABASE_URL / REDIS_URL / SECRET_KEY
set). `--no-supervisor` measures a hub without it (the minute schedules only: how main was).
Prints JSON.

    python -m bench.recovery                      # embedded
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wsop_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        SECRET_KEY=bench python -m bench.recovery
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from bench.common import bench_database, median, percentile, purge_broker, settings
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.services.instructions import instruction_create
from tests.rendering.cluster import cluster_env, running_cluster, running_supervisor, wait_for

S = InstructionStatus
SLOW = {"format": "PNG", "resolution": "1280x720", "frame_count": 240}
LAYERS = {"winner": "Alice", "hand_rank_label": "Royal Flush", "pot_size": 10}


def one_kill(timeout: float, signum: int = signal.SIGKILL) -> float:
    """Seconds from SIGKILL (or SIGSTOP: a hung worker, alive but silent) of the worker rendering
    a job to its render starting again."""
    row, _ = instruction_create(
        template_name="premium_hand", layer_data=LAYERS, output_settings=SLOW
    )
    wait_for(
        lambda: RenderInstruction.objects.filter(
            pk=row.pk, status=S.PROCESSING, render_progress__gt=0
        ).exists(),
        timeout=120,
        what="the render to start",
    )
    holder = RenderInstruction.objects.get(pk=row.pk).claimed_by
    pid = int(holder.rsplit(":", 1)[1])
    os.kill(pid, signum)
    killed = time.monotonic()
    wait_for(
        lambda: (
            RenderInstruction.objects.filter(pk=row.pk)
            .exclude(claimed_by=holder)
            .filter(status__in=[S.PROCESSING, S.COMPLETED])
            .exists()
        ),
        timeout=timeout,
        what="the job to render again",
        interval=0.05,
    )
    again = time.monotonic() - killed
    if signum == signal.SIGSTOP:
        os.kill(pid, signal.SIGCONT)  # it wakes up to find its job gone: its report is refused
    wait_for(
        lambda: RenderInstruction.objects.filter(pk=row.pk, status=S.COMPLETED).exists(),
        timeout=300,
        what="the job to complete",
    )
    return again


def one_retry(timeout: float, backoff: float = 3.0) -> float:
    """Seconds between a failed job's backoff ending and its retry starting (late > 0)."""
    row, _ = instruction_create(template_name="lower_third", layer_data=LAYERS)
    wait_for(
        lambda: RenderInstruction.objects.filter(pk=row.pk, status=S.COMPLETED).exists(),
        timeout=120,
        what="the first render",
    )
    RenderOutput.objects.filter(instruction=row).delete()
    due = timezone.now() + timedelta(seconds=backoff)
    # As a worker's failure report leaves a job: FAILED, its retry due when the backoff ends.
    RenderInstruction.objects.filter(pk=row.pk).update(
        status=S.FAILED, next_attempt_at=due, completed_at=timezone.now()
    )
    wait_for(
        lambda: RenderInstruction.objects.filter(pk=row.pk, started_at__gt=due).exists(),
        timeout=timeout,
        what="the retry to start",
        interval=0.05,
    )
    return (RenderInstruction.objects.get(pk=row.pk).started_at - due).total_seconds()


def summary(samples: list[float]) -> dict[str, float | int | list[float]] | None:
    if not samples:
        return None
    return {
        "runs": len(samples),
        "p50_s": median(samples),
        "p99_s": round(percentile(samples, 99), 3),
        "max_s": round(max(samples), 3),
        "samples_s": [round(s, 2) for s in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--hangs", type=int, default=3)
    parser.add_argument("--retries", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900, help="give up on one sample")
    parser.add_argument("--no-supervisor", action="store_true")
    args = parser.parse_args()
    with bench_database(), tempfile.TemporaryDirectory() as out:
        purge_broker()
        env = cluster_env(workers=2, backend="preview", output_root=Path(out))
        supervisor = contextlib.nullcontext() if args.no_supervisor else running_supervisor(env)
        with running_cluster(env), supervisor:
            kills = [one_kill(args.timeout) for _ in range(args.kills)]
            hangs = [one_kill(args.timeout, signal.SIGSTOP) for _ in range(args.hangs)]
            retries = [one_retry(args.timeout) for _ in range(args.retries)]
    print(
        json.dumps(
            {
                "bench": "recovery",
                "mode": settings.HUB_MODE,
                "supervisor": not args.no_supervisor,
                "settings": {
                    "lease_timeout_s": settings.RENDER_ZOMBIE_TIMEOUT_SECONDS,
                    "heartbeat_s": settings.RENDER_HEARTBEAT_SECONDS,
                    "workers": 2,
                },
                "killed_worker_job_renders_again": summary(kills),
                "hung_worker_job_renders_again": summary(hangs),
                "retry_start_after_backoff": summary(retries),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
