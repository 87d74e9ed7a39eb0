"""Drain throughput of the render queue: jobs/s with 2 and 4 worker processes, no-op renderer.

Prints JSON: the median of `--runs` drains of `--jobs` jobs for each worker count. The clock runs
from the commit of the jobs (and their wake-ups) to the last job's completion.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.db.models import Max

from bench.common import bench_database, median, purge_broker, settings
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.services.dispatch import instruction_dispatch
from tests.rendering.cluster import cluster_env, running_cluster, wait_for


def drain_once(jobs: int) -> float:
    RenderOutput.objects.all().delete()
    RenderInstruction.objects.all().delete()
    if settings.DB_VENDOR == "postgresql":
        # What autovacuum does after a run's deletes on a live server (the claim walks the
        # PENDING index, which keeps dead entries until a vacuum).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE rendering_renderinstruction, rendering_renderoutput")
    purge_broker()
    start = time.time()
    RenderInstruction.objects.bulk_create(
        RenderInstruction(template_name="bench", priority=1 + n % 10) for n in range(jobs)
    )
    for _ in range(jobs):  # one wake-up per job, as the producer API sends them
        instruction_dispatch(instruction_id=None)
    wait_for(
        lambda: (
            RenderInstruction.objects.filter(status=InstructionStatus.COMPLETED).count() == jobs
        ),
        timeout=600,
        what="the drain",
        interval=0.05,
    )
    last = RenderInstruction.objects.aggregate(last=Max("completed_at"))["last"].timestamp()
    return jobs / (last - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result = {
        "mode": settings.HUB_MODE,
        "jobs": args.jobs,
        "runs": args.runs,
        "jobs_per_second": {},
    }
    with bench_database(), tempfile.TemporaryDirectory() as out:
        for workers in (2, 4):
            env = cluster_env(workers=workers, backend="noop", output_root=Path(out))
            with running_cluster(env):
                time.sleep(3)  # let the cluster's processes start before the clock does
                rates = [drain_once(args.jobs) for _ in range(args.runs)]
            result["jobs_per_second"][f"{workers}_workers"] = {
                "median": median(rates),
                "runs": [round(r, 1) for r in rates],
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
