"""Real django-q2 worker clusters (`manage.py qcluster`) against the test database, for the
multi-process tests and the benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}"
        f":{db.get('PORT') or 5432}/{db['NAME']}"
    )


def cluster_env(*, workers: int, backend: str, output_root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,  # tasks are signed with it
        Q_WORKERS=str(workers),
        RENDER_BACKEND=backend,
        OUTPUT_ROOT=str(output_root),
        Q_LOG_LEVEL="ERROR",
        LOG_LEVEL="ERROR",
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(extra)
    return env


@contextmanager
def running_cluster(
    env: dict[str, str], *, count: int = 1, log: Path | None = None, command: str = "qcluster"
) -> Iterator[list[subprocess.Popen]]:
    """`count` processes of `manage.py <command>` (django-q2 clusters unless told otherwise);
    stopped (SIGTERM, then SIGKILL) on exit."""
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            # Never a PIPE nobody reads: a full pipe would freeze the cluster mid-test.
            stderr=log.open("ab") if log else subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def running_supervisor(
    env: dict[str, str], *, log: Path | None = None
) -> Iterator[subprocess.Popen]:
    """The queue supervisor (`manage.py queue_supervisor`) beside the workers."""
    with running_cluster(env, log=log, command="queue_supervisor") as (proc,):
        yield proc


def wait_for(
    condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1
) -> object:
    """Poll `condition` (a database query) until it holds and return what it gave; fail with
    `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
