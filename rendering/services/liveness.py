"""Is a job's holder alive? Its own heartbeat says so, and a dead local process says it is not.

* A worker process keeps the lease of the job it renders alive from a thread of its own
  (`LeaseKeeper`), every RENDER_HEARTBEAT_SECONDS, whatever the render is doing (a long frame, a
  slow file system). So the lease timeout can be tens of seconds, not minutes.
* A holder named `host:pid` that is this host's and whose process is gone (or is a zombie, or the
  pid now belongs to a process started after the claim) is dead for sure: the reaper takes its
  jobs back at once instead of waiting for the timeout. Believing a live holder dead would
  render a job twice, so anything uncertain counts as alive and waits for the timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

from automation_hub.errors import LeaseLost, NotFound
from rendering.services.transitions.lease import instruction_heartbeat

logger = logging.getLogger(__name__)

# /proc times have a resolution of a clock tick; a claim is made after its process started.
_START_SLACK = timedelta(seconds=1)


def worker_identity() -> str:
    """host:pid: unique among the live workers, and says where to look when one is stuck."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _process_state(pid: int) -> tuple[str, datetime | None] | None:
    """(state letter, start time) of a local process, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ("?", None)  # cannot tell: count it as alive
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 onwards
    boot = _boot_time()
    started = None
    if boot is not None:
        ticks = int(fields[19])  # field 22: start time, in clock ticks after boot
        started = datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    return (fields[0], started)


def holder_gone_from_this_host(holder: str, *, claimed_at: datetime | None) -> bool:
    """True only when `holder` is a process of this host that certainly no longer runs the claim
    made at `claimed_at`: no such pid, a zombie, or a pid reused by a newer process."""
    host, _, pid_text = holder.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if not Path("/proc").is_dir():  # not Linux: only "no such process" is certain
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    state = _process_state(pid)
    if state is None:
        return True
    letter, started = state
    if letter in ("Z", "X"):  # killed, waiting for its parent to collect it
        return True
    return started is not None and claimed_at is not None and started > claimed_at + _START_SLACK


class LeaseKeeper:
    """One thread per worker process that heart-beats the lease it holds right now.

    `hold()` names the job; the thread renews its heartbeat every RENDER_HEARTBEAT_SECONDS until
    `release()`. Once the lease is lost (reaped, cancelled, claimed again) `lost` turns True and
    the render stops at its next check. A database that does not answer is retried at the next
    beat; the lease timeout is several beats long.
    """

    def __init__(self, *, worker_id: str, interval: float | None = None) -> None:
        self.worker_id = worker_id
        self.interval = interval or settings.RENDER_HEARTBEAT_SECONDS
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._job: tuple[int, uuid.UUID] | None = None
        self._lost = False
        self._thread: threading.Thread | None = None

    def hold(self, *, instruction_id: int, lease_id: uuid.UUID) -> None:
        with self._lock:
            self._job, self._lost = (instruction_id, lease_id), False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"lease-keeper-{self.worker_id}", daemon=True
                )
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._job = None

    @property
    def lost(self) -> bool:
        return self._lost

    def _run(self) -> None:
        idle = True
        while True:
            self._wake.wait(self.interval)
            with self._lock:
                job = self._job
            if job is not None:
                self._beat(*job)
                idle = False
            elif not idle:
                # Between jobs the thread holds no database connection (and none is left open
                # when the process or a test database goes away).
                connection.close()
                idle = True

    def _beat(self, instruction_id: int, lease_id: uuid.UUID) -> None:
        try:
            instruction_heartbeat(
                instruction_id=instruction_id, worker_id=self.worker_id, lease_id=lease_id
            )
        except LeaseLost:
            with self._lock:
                if self._job == (instruction_id, lease_id):
                    self._lost = True
            logger.warning("instruction %s: lease lost while rendering", instruction_id)
        except NotFound:
            pass  # not visible to this thread's connection (yet): nothing to conclude
        except DatabaseError:
            logger.warning("heartbeat of instruction %s failed; next beat retries", instruction_id)
            connection.close()


_keepers: dict[tuple[int, str], LeaseKeeper] = {}


def lease_keeper(worker_id: str) -> LeaseKeeper:
    """This process's keeper for `worker_id` (a forked worker gets its own, with its own thread)."""
    key = (os.getpid(), worker_id)
    keeper = _keepers.get(key)
    if keeper is None:
        keeper = _keepers[key] = LeaseKeeper(worker_id=worker_id)
    return keeper
