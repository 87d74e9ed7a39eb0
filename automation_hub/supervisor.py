"""Run a small table of child processes, restart the ones that die, stop them all within a bound.

`manage.py runhub` uses it for the web server and the worker clusters (see `hub_children`). A child
that exits is started again after a backoff (RUNHUB_BACKOFF_SECONDS, doubling up to
RUNHUB_BACKOFF_MAX_SECONDS), logged and counted; the others keep running meanwhile. Only a child
that crashes RUNHUB_MAX_FAST_CRASHES times in a row, each within RUNHUB_STABLE_SECONDS of its
start, makes the supervisor give up: it stops everything and exits 1 (an outer supervisor, systemd
or docker's `restart:`, takes over from there). Every HUB_HEARTBEAT_SECONDS the state of each child
is written to `HubProcess` (readiness and the dashboard badge read it).

Each child runs in its own session: a terminal's Ctrl-C reaches only the supervisor, which stops
the children in order (SIGTERM to each leader, which stops its own processes, then SIGKILL to the
whole group of any child still there at the deadline).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connections
from django.utils import timezone

from automation_hub.models import HubProcess
from automation_hub.processes import ProcessBeat, hub_processes_beat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildSpec:
    """One supervised process: how to start it. A new kind of process is one more entry."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # Stopped only once every other child has exited: a part that takes work from the others
    # (they may hand it some while they stop) must not be gone before they are.
    stops_last: bool = False


@dataclass
class Child:
    spec: ChildSpec
    proc: subprocess.Popen | None = None
    started: float = 0.0
    started_at: datetime | None = None
    restarts: int = 0
    fast_crashes: int = 0
    restart_at: float | None = None
    last_exit: str = ""
    failed: bool = False

    @property
    def state(self) -> str:
        if self.failed:
            return HubProcess.State.FAILED
        if self.proc is not None and self.proc.poll() is None:
            return HubProcess.State.RUNNING
        return HubProcess.State.RESTARTING


def exit_description(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        say: Callable[[str], None] = logger.warning,
        cwd: str | None = None,
    ) -> None:
        self.children = [Child(spec) for spec in specs]
        self.say = say
        self.cwd = cwd or str(settings.BASE_DIR)
        self.host = socket.gethostname()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.exit_code = 0

    # ----------------------------------------------------------------------------------------
    def request_stop(self, *_args: object) -> None:
        """Signal-safe: the loop notices within a fraction of a second."""
        self._stopping.set()

    def run(self) -> int:
        """Start every child, keep them running until asked to stop (or giving up), stop them."""
        for child in self.children:
            self._spawn(child)
        beater = threading.Thread(target=self._beat_loop, name="hub-heartbeat", daemon=True)
        beater.start()
        while not self._stopping.is_set():
            now = time.monotonic()
            for child in self.children:
                self._check(child, now)
            self._stopping.wait(0.2)
        self._stop_all()
        beater.join(timeout=1.5)
        return self.exit_code

    # ----------------------------------------------------------------------------------------
    def _spawn(self, child: Child) -> None:
        env = {**os.environ, **child.spec.env}
        with self._lock:
            child.proc = subprocess.Popen(  # noqa: S603 (argv from the children table)
                child.spec.argv, cwd=self.cwd, env=env, start_new_session=True
            )
            child.started = time.monotonic()
            child.started_at = timezone.now()
            child.restart_at = None

    def _check(self, child: Child, now: float) -> None:
        if child.failed:
            return
        if child.proc is not None and child.proc.poll() is not None:
            self._on_exit(child, now)
        elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
            child.restarts += 1
            self.say(f"{child.spec.name}: restarting (restart {child.restarts})")
            self._spawn(child)

    def _on_exit(self, child: Child, now: float) -> None:
        proc = child.proc
        assert proc is not None
        ran = now - child.started
        with self._lock:
            child.last_exit = exit_description(proc.returncode)
            child.proc = None
        _kill_group(proc.pid)  # whatever it left behind (its workers) goes with it
        child.fast_crashes = child.fast_crashes + 1 if ran < settings.RUNHUB_STABLE_SECONDS else 1
        if child.fast_crashes >= settings.RUNHUB_MAX_FAST_CRASHES:
            child.failed = True
            self.say(
                f"{child.spec.name}: {child.last_exit} after {ran:.1f} s, "
                f"{child.fast_crashes} fast crashes in a row: giving up, stopping the hub"
            )
            self.exit_code = 1
            self._stopping.set()
            return
        delay = min(
            settings.RUNHUB_BACKOFF_SECONDS * 2 ** (child.fast_crashes - 1),
            settings.RUNHUB_BACKOFF_MAX_SECONDS,
        )
        child.restart_at = now + delay
        self.say(
            f"{child.spec.name}: {child.last_exit} after {ran:.1f} s; restart in {delay:.1f} s"
        )

    def _stop_all(self) -> None:
        started = time.monotonic()
        deadline = started + settings.RUNHUB_STOP_SECONDS
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for last in (False, True):
            wave = [c for c in running if c.spec.stops_last is last]
            for child in wave:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            for child in wave:
                proc = child.proc
                assert proc is not None
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.say(f"{child.spec.name}: still running at the deadline; killed")
                _kill_group(proc.pid)
                proc.wait()
        with self._lock:
            for child in self.children:
                child.proc = None
                if not child.failed:
                    child.last_exit = child.last_exit or "stopped"
        self._beat(final=True)
        self.say(f"stopped in {time.monotonic() - started:.1f} s")

    # ----------------------------------------------------------------------------------------
    def _beat_loop(self) -> None:
        self._beat()
        while not self._stopping.wait(settings.HUB_HEARTBEAT_SECONDS):
            self._beat()
        connections.close_all()  # this thread's own connection

    def _beat(self, *, final: bool = False) -> None:
        with self._lock:
            beats = [
                ProcessBeat(
                    name=c.spec.name,
                    state=HubProcess.State.STOPPED if final and not c.failed else c.state,
                    pid=c.proc.pid if c.proc is not None else None,
                    restarts=c.restarts,
                    last_exit=c.last_exit,
                    started_at=c.started_at,
                )
                for c in self.children
            ]
        try:
            hub_processes_beat(host=self.host, beats=beats)
        except Exception as exc:  # database restarting: the children keep running meanwhile
            logger.warning("process heartbeat not written: %s", exc)
            connections.close_all()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
