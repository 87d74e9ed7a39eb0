"""`manage.py runworkers render|ops`: one django-q2 cluster of the hub, with a bounded stop.

* `render`: the default cluster (Q_CLUSTER "hub"): the render wake-ups, nothing else.
* `ops`: the cluster "hub-ops" (Q_CLUSTER["ALT_CLUSTERS"]): the hub's schedules (zombie hunter,
  sweep, detectors, rollup, pruning, syncs) and its background tasks (notifications, syncs), so
  they never wait behind renders.

django-q2 picks its cluster from the Q_CLUSTER_NAME environment variable when it is imported, so
the command re-executes itself with that variable set when it is not already right.

SIGTERM / SIGINT: the workers are told to claim nothing new (SIGUSR1), the cluster stops; renders
still running after RENDER_STOP_GRACE_SECONDS are killed and their rows released (PENDING, no
retry spent). qcluster itself would wait for every running task, however long.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

CLUSTERS = {"render": settings.Q_RENDER_CLUSTER, "ops": settings.Q_OPS_CLUSTER}


class Command(BaseCommand):
    help = "Run one of the hub's django-q2 worker clusters: render or ops."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster", choices=sorted(CLUSTERS))

    def handle(self, *args: Any, cluster: str, **options: Any) -> None:
        wanted = CLUSTERS[cluster]
        if os.environ.get("Q_CLUSTER_NAME", settings.Q_RENDER_CLUSTER) != wanted:
            env = {**os.environ, "Q_CLUSTER_NAME": wanted}
            argv = [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "runworkers",
                cluster,
            ]
            os.execve(sys.executable, argv, env)  # noqa: S606 (the same command, its own argv)
        from django_q.cluster import Cluster
        from django_q.conf import Conf

        from rendering.services.worker import worker_stop_request

        assert wanted == Conf.CLUSTER_NAME, Conf.CLUSTER_NAME
        # Installed before the cluster forks: every worker process inherits it.
        signal.signal(signal.SIGUSR1, worker_stop_request)
        q = Cluster()
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        # Replaces qcluster's own handlers (an unbounded stop).
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        q.start()
        self.stderr.write(f"runworkers: cluster {wanted} running ({Conf.WORKERS} workers)")
        while not stopping and q.sentinel.is_alive():
            time.sleep(0.2)
        if not stopping:
            self.stderr.write(f"runworkers: cluster {wanted} stopped by itself")
            sys.exit(1)
        released = cluster_stop_bounded(q, release=cluster == "render")
        self.stderr.write(
            f"runworkers: cluster {wanted} stopped"
            + (f"; released instructions {released}" if released else "")
        )


def cluster_stop_bounded(q: Any, *, release: bool) -> list[int]:
    """Stop the cluster; kill what still runs after the grace period. Returns released ids."""
    sentinel = q.sentinel
    for pid in _descendants(sentinel.pid):
        _signal(pid, signal.SIGUSR1)  # claim nothing new
    q.stop_event.set()
    sentinel.join(timeout=settings.RENDER_STOP_GRACE_SECONDS)
    if not sentinel.is_alive():
        return []
    left = _descendants(sentinel.pid)
    for pid in left:
        _signal(pid, signal.SIGKILL)
    _signal(sentinel.pid, signal.SIGKILL)
    sentinel.join(timeout=2)
    if not release:
        return []
    from rendering.services.shutdown import instructions_release_held_by

    host = socket.gethostname()
    return instructions_release_held_by(
        worker_ids=[f"{host}:{pid}" for pid in left],
        reason="Render worker stopped with the hub; back in the queue",
    )


def _descendants(root: int) -> list[int]:
    """Every process below `root` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The name may hold spaces and parentheses: fields after the last ')' are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found += kids
        frontier += kids
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
