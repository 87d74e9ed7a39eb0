"""How busy the hub keeps an After Effects farm, through the hub's real HTTP API.

    python -m bench.farm [--mode embedded|production] [--hub-dir DIR] [--runs 3]

A real `@nexrender/server` (NEXRENDER_ORDERING=priority), `--machines` simulated AE machines
(tests/nexrender/farm.py, polling every `--ae-poll` s) and the hub of `--hub-dir` (default: this
checkout) started as `make run` starts it (`migrate`, then `manage.py runhub` with
RENDER_BACKEND=nexrender and `--workers` render workers, default settings otherwise) on a
throw-away database: SQLite (embedded) or a PostgreSQL and a Redis server of its own
(production). The hub is driven only through processes and HTTP, so the same bench measures any
version of it. Each run POSTs `--jobs` instructions at once and waits for all to be COMPLETED;
JSON on stdout with the median over the runs of:

* ae_utilisation: AE render time / (machines x (last render's end - first POST));
* idle_gap_s p50/p95: a machine's wait between the end of one render and the start of its next;
* post_to_completed_s p50/p95: `completed_at - created_at` of each instruction (the hub's clock);
* hub_overhead_s p50/p95: per job, the time the hub added to it: how long the machine that
  rendered it sat free while the job existed (render start - max(POST, that machine's previous
  render end)) + how long the hub took to see the render end (render end → COMPLETED); and the
  p50 of each of the two parts.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.broadcast_day import Hub  # noqa: E402
from tests.nexrender.farm import Farm, Render  # noqa: E402
from tests.private_servers import NexrenderServer, PrivatePostgres, PrivateRedis  # noqa: E402

SECRET = "farm-bench-secret"  # noqa: S105 (a loopback server of its own)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def payload(n: int) -> dict:
    return {
        "template_name": "lower_third",
        "priority": 5,
        "trigger_type": "manual",
        "layer_data": {"player_name": f"Player {n}", "chips": str(1000 * n)},
    }


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def one_batch(http: httpx.Client, jobs: int, timeout: float) -> dict[int, dict]:
    """POST `jobs` instructions, wait until all are COMPLETED; their rows by id."""
    ids = []
    for n in range(jobs):
        response = http.post("/api/instructions", json=payload(n))
        response.raise_for_status()
        ids.append(response.json()["id"])
    wanted, rows = set(ids), {}
    deadline = time.monotonic() + timeout
    while len(rows) < len(wanted):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(wanted) - len(rows)} jobs not COMPLETED after {timeout} s")
        time.sleep(0.5)
        page = http.get("/api/instructions", params={"status": "completed", "page_size": 500})
        for row in page.json()["results"]:
            if row["id"] in wanted:
                rows[row["id"]] = row
    return rows


def measure(rows: dict[int, dict], renders: list[Render], machines: int) -> dict:
    by_id = {}
    for render in renders:
        by_id.setdefault(int(render.uid.split("-")[-2]), render)
    mine = [by_id[i] for i in rows if i in by_id]
    first_post = min(stamp(r["created_at"]) for r in rows.values())
    last_end = max(r.ended for r in mine)
    rendering = sum(r.ended - r.started for r in mine)
    gaps, free_since = [], {}
    for m in range(machines):
        own = sorted((r for r in mine if r.machine == m), key=lambda r: r.started)
        gaps += [b.started - a.ended for a, b in itertools.pairwise(own)]
        # When the machine that rendered each job became free for it.
        for previous, render in zip([None, *own], own, strict=False):
            pk = int(render.uid.split("-")[-2])
            free_since[pk] = previous.ended if previous is not None else first_post
    latency, overhead, before_render, after_render = [], [], [], []
    for pk, row in rows.items():
        created, completed, render = stamp(row["created_at"]), stamp(row["completed_at"]), by_id[pk]
        latency.append(completed - created)
        before_render.append(render.started - max(created, free_since[pk]))
        after_render.append(max(0.0, completed - render.ended))
        overhead.append(before_render[-1] + after_render[-1])
    return {
        "ae_utilisation": rendering / (machines * (last_end - first_post)),
        "idle_gap_s_p50": percentile(gaps, 50) if gaps else 0.0,
        "idle_gap_s_p95": percentile(gaps, 95) if gaps else 0.0,
        "post_to_completed_s_p50": percentile(latency, 50),
        "post_to_completed_s_p95": percentile(latency, 95),
        "hub_overhead_s_p50": percentile(overhead, 50),
        "hub_overhead_s_p95": percentile(overhead, 95),
        # its two parts: before the render (a machine was free) and after it (the hub noticing)
        "overhead_before_render_s_p50": percentile(before_render, 50),
        "overhead_after_render_s_p50": percentile(after_render, 50),
        "ae_renders": len(mine),
        "ae_renders_of_batch_total": sum(1 for r in renders if int(r.uid.split("-")[-2]) in rows),
        "wall_s": last_end - first_post,
    }


def hub_env(args: argparse.Namespace, workdir: Path, nexrender: NexrenderServer) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="automation_hub.settings",
        HUB_VAR_DIR=str(workdir / "var"),
        OUTPUT_ROOT=str(workdir / "output"),
        RENDER_BACKEND="nexrender",
        NEXRENDER_URL=nexrender.url,
        NEXRENDER_SECRET=SECRET,
        Q_WORKERS=str(args.workers),
        LOG_LEVEL="WARNING",
        Q_LOG_LEVEL="ERROR",
        PYTHONUNBUFFERED="1",
    )
    env.update(item.split("=", 1) for item in args.set)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--hub-dir", type=Path, default=ROOT, help="the hub checkout to measure")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--render-seconds", type=float, default=3.5)
    parser.add_argument("--machines", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ae-poll", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a hub setting"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="farm-bench-"))
    (workdir / "var").mkdir()
    postgres = redis = hub = farm = nexrender = None
    try:
        nexrender = NexrenderServer(workdir / "nexrender" / "database.js", SECRET)
        nexrender.start()
        env = hub_env(args, workdir, nexrender)
        if args.mode == "production":
            postgres, redis = PrivatePostgres(workdir), PrivateRedis(home=workdir)
            env.update(
                DATABASE_URL=postgres.start("wsop_farm_bench"),
                REDIS_URL=redis.start(),
                SECRET_KEY=base64.b64encode(os.urandom(30)).decode(),
            )
        # Ready once its render workers answer: an older hub (--hub-dir) has fewer parts.
        hub = Hub(workdir, env, hub_dir=args.hub_dir.resolve(), parts={"render-workers"})
        hub.start()
        key = hub.manage("create_api_key", "sub", "--name", "farm-bench").strip().splitlines()[-1]
        farm = Farm(
            nexrender.url,
            SECRET,
            machines=args.machines,
            render_seconds=args.render_seconds,
            poll_seconds=args.ae_poll,
        ).start()
        headers = {"Authorization": f"Api-Key {key}"}
        runs = []
        with httpx.Client(base_url=hub.url, headers=headers, timeout=30) as http:
            one_batch(http, 1, args.timeout)  # warm-up: every process has started and answered
            for _ in range(args.runs):
                before = len(farm.log())
                rows = one_batch(http, args.jobs, args.timeout)
                time.sleep(2)  # let the hub clean up the server
                runs.append(measure(rows, farm.log()[before:], args.machines))
                runs[-1]["jobs_left_on_server"] = len(nexrender.jobs())
        report = {
            "bench": "farm",
            "mode": args.mode,
            "hub_dir": str(args.hub_dir),
            "machines": args.machines,
            "hub_workers": args.workers,
            "jobs": args.jobs,
            "render_seconds": args.render_seconds,
            "ae_poll_seconds": args.ae_poll,
            "hub_settings": args.set,
            "runs": len(runs),
            "median": {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]},
            "each_run": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        }
        print(json.dumps(report, indent=2))
    finally:
        for part in (farm, hub, nexrender, redis, postgres):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
