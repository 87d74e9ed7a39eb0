"""Live dashboard latency: a worker process's state change → the message in a real browser page.

For each mode (embedded: SQLite + the web process's database relay; production: PostgreSQL +
Redis pub/sub) it starts daphne on a free loopback port, signs a headless chromium in on the
instruction list, and lets a separate Python process (standing in for a render worker) change an
instruction --changes times, --interval apart. Latency = the page's arrival time of the event
(performance.timeOrigin + now) minus the wall-clock time just before the worker's transaction began.
Prints JSON: p50/p99/max per run and their medians over --runs runs.

    .venv/bin/python bench/ws_latency.py                      # both modes
    .venv/bin/python bench/ws_latency.py --mode embedded
    .venv/bin/python bench/ws_latency.py --mode production \
        --database-url postgres://postgres@127.0.0.1:5432/wsop_bench_ws --redis-url redis://127.0.0.1:6379/9

The production database named by --database-url is wiped (its public schema is recreated).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.private_servers import free_port  # noqa: E402

WORKER = """
import json, sys, time
import django
django.setup()
from django.db import transaction
from django.utils import timezone
from automation_hub.live import live_last_seq, publish_on_commit
from rendering.models import RenderInstruction
from rendering.services.payloads import instruction_live_data
pk, changes, interval = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
samples = []
for n in range(changes):
    t0 = time.time()
    with transaction.atomic():
        RenderInstruction.objects.filter(pk=pk).update(
            status="processing", render_progress=n % 101, updated_at=timezone.now())
        publish_on_commit("instruction_updated", instruction_live_data(
            RenderInstruction.objects.get(pk=pk)))
    samples.append([live_last_seq(), t0])
    time.sleep(interval)
print(json.dumps(samples))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ensure_database(db: dict) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet."""
    import psycopg
    from psycopg import sql

    params = {"dbname": "postgres", "host": db["HOST"] or None, "port": db["PORT"] or None}
    params.update(user=db["USER"] or None, password=db["PASSWORD"] or None)
    with psycopg.connect(**params, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("daphne exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("daphne did not listen")


def child(args: argparse.Namespace) -> None:
    """One mode, in its own process (settings are read once per process)."""
    os.environ["HUB_VAR_DIR"] = tempfile.mkdtemp(prefix="hub-bench-ws-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "automation_hub.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    if args.mode == "production":
        os.environ.update(
            DATABASE_URL=args.database_url,
            REDIS_URL=args.redis_url,
            SECRET_KEY="bench-only",  # noqa: S106
        )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from playwright.sync_api import sync_playwright

    from rendering.services.instructions import instruction_create

    if settings.DB_VENDOR == "postgresql":
        ensure_database(settings.DATABASES["default"])
        with connection.cursor() as cursor:  # a clean schema each time
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    get_user_model().objects.create_user("bench", password="bench-pass-123")  # noqa: S106
    instruction, _ = instruction_create(template_name="bench")
    env = {**os.environ}
    if settings.DB_VENDOR == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{settings.DATABASES['default']['NAME']}"
    env["SECRET_KEY"] = settings.SECRET_KEY
    connection.close()

    port = free_port()
    daphne = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "automation_hub.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = []
    try:
        wait_listening(port, daphne)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            page = browser.new_page()
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", "bench-pass-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/overview/")
            page.goto(f"{base}/instructions/")
            page.wait_for_selector("#live-indicator.live-live")
            for _ in range(args.runs):
                done = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        WORKER,
                        str(instruction.pk),
                        str(args.changes),
                        str(args.interval),
                    ],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                samples = json.loads(done.stdout)
                last = max(seq for seq, _ in samples)
                page.wait_for_function(f"window.hubLive.lastSeq >= {last}", timeout=30000)
                arrivals = dict(page.evaluate("Array.from(window.hubLive.arrivals.entries())"))
                latencies = [arrivals[seq] - t0 * 1000 for seq, t0 in samples if seq in arrivals]
                runs.append(
                    {
                        "samples": len(latencies),
                        "missing": len(samples) - len(latencies),
                        "p50_ms": round(percentile(latencies, 0.50), 1),
                        "p99_ms": round(percentile(latencies, 0.99), 1),
                        "max_ms": round(max(latencies), 1),
                    }
                )
            browser.close()
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
    print(
        json.dumps(
            {
                "benchmark": "ws_latency",
                "mode": settings.HUB_MODE,
                "database": settings.DB_VENDOR,
                "changes_per_run": args.changes,
                "interval_s": args.interval,
                "runs": runs,
                "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
                "missing_total": sum(r["missing"] for r in runs),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["both", "embedded", "production"], default="both")
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/wsop_bench_ws"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    modes = ["embedded", "production"] if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--mode",
            mode,
            "--changes",
            str(args.changes),
            "--interval",
            str(args.interval),
            "--runs",
            str(args.runs),
            "--database-url",
            args.database_url,
            "--redis-url",
            args.redis_url,
        ]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
