"""Dispatch latency of the render queue: instruction create/commit → render start, idle workers.

Prints JSON: p50/p95/p99 in milliseconds, the median of `--runs` runs of `--jobs` instructions
created one at a time through `instruction_create` (so dispatch runs on commit, as in the API).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import bench_database, median, percentile, purge_broker, settings
from rendering.models import InstructionStatus, RenderInstruction, RenderOutput
from rendering.services.instructions import instruction_create
from tests.rendering.cluster import cluster_env, running_cluster, wait_for


def run_once(jobs: int, gap: float) -> list[float]:
    RenderOutput.objects.all().delete()
    RenderInstruction.objects.all().delete()
    purge_broker()
    committed: dict[int, float] = {}
    for n in range(jobs):
        # Clock from just before the create: in autocommit the wake-up goes out inside the call,
        # so a worker can start before it returns. An upper bound of commit → start.
        before = time.time()
        row, _ = instruction_create(template_name="latency", layer_data={"n": n})
        committed[row.pk] = before
        time.sleep(gap)
    wait_for(
        lambda: not RenderInstruction.objects.exclude(status=InstructionStatus.COMPLETED).exists(),
        timeout=120,
        what="the run",
    )
    started = dict(RenderInstruction.objects.values_list("pk", "started_at"))
    return [max(0.0, started[pk].timestamp() - t) * 1000 for pk, t in committed.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between instructions")
    args = parser.parse_args()
    runs = []
    with bench_database(), tempfile.TemporaryDirectory() as out:
        env = cluster_env(workers=2, backend="noop", output_root=Path(out))
        with running_cluster(env):
            time.sleep(3)
            run_once(10, args.gap)  # warm-up: connections, imports
            for _ in range(args.runs):
                latencies = run_once(args.jobs, args.gap)
                runs.append({q: percentile(latencies, q) for q in (50, 95, 99)})
    result = {
        "mode": settings.HUB_MODE,
        "jobs": args.jobs,
        "runs": args.runs,
        "latency_ms": {f"p{q}": median([r[q] for r in runs]) for q in (50, 95, 99)},
        "per_run_ms": [{f"p{q}": round(r[q], 1) for q in r} for r in runs],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
