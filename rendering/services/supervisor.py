"""The queue supervisor: recovery in seconds, in a loop that never waits behind renders.

One per hub host (`manage.py queue_supervisor`, started by `make run` and docker-compose beside
the workers, so it can see their processes). Each tick it

* re-queues failed jobs the moment their backoff ends (checked every TICK_SECONDS);
* every RENDER_REAP_INTERVAL_SECONDS takes back jobs whose holder is gone: a process of this host
  that no longer runs at once, any other holder once it was silent for the lease timeout;
* every RENDER_SWEEP_INTERVAL_SECONDS tops up the workers' wake-ups for claimable work (a lost
  or never-sent wake-up costs seconds, not minutes);
* now and then deletes the temporary files killed renders left under OUTPUT_ROOT.

Everything it does is conditional on what it found, so two supervisors (or the minute schedules,
kept as a backstop) racing on the same rows change each row once. A database that does not
answer is retried every second; once it answers again after a longer outage, holders get one
lease timeout to heartbeat before anyone is reaped for silence: their heartbeats failed too.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from rendering.services.recovery import (
    instructions_reap_stale,
    instructions_retry_due,
    output_temp_sweep,
    queue_sweep,
)

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
TEMP_SWEEP_SECONDS = 300.0


@dataclass
class SupervisorClock:
    """When each duty is next due (time.monotonic()), and what the last outage left."""

    next_reap: float = 0.0
    next_sweep: float = 0.0
    next_temp_sweep: float = 0.0
    last_ok: float = field(default_factory=time.monotonic)
    silence_grace_until: float = 0.0


def supervisor_tick(clock: SupervisorClock, *, now: float | None = None) -> dict[str, int]:
    """One round of duties that are due; returns what each did. Raises on a database error."""
    now = time.monotonic() if now is None else now
    done = {"retried": instructions_retry_due()}
    if now >= clock.next_reap:
        reaped = instructions_reap_stale(by_silence=now >= clock.silence_grace_until)
        done.update(reaped)
        clock.next_reap = now + settings.RENDER_REAP_INTERVAL_SECONDS
    if now >= clock.next_sweep:
        done["wakeups"] = queue_sweep(retry=False)["wakeups"]
        clock.next_sweep = now + settings.RENDER_SWEEP_INTERVAL_SECONDS
    if now >= clock.next_temp_sweep:
        done["temp_files"] = output_temp_sweep()
        clock.next_temp_sweep = now + TEMP_SWEEP_SECONDS
    return done


def supervisor_run(*, stop: threading.Event, clock: SupervisorClock | None = None) -> None:
    """Tick until `stop` is set; database outages are waited out, never fatal."""
    clock = clock or SupervisorClock()
    while not stop.is_set():
        started = time.monotonic()
        _grace_after_blindness(clock, started)
        try:
            close_old_connections()
            supervisor_tick(clock, now=started)
        except DatabaseError:
            logger.warning("queue supervisor: database unavailable; retrying", exc_info=True)
            connection.close()
            stop.wait(1.0)
            continue
        clock.last_ok = time.monotonic()
        stop.wait(max(0.0, TICK_SECONDS - (clock.last_ok - started)))
    connection.close()


def _grace_after_blindness(clock: SupervisorClock, now: float) -> None:
    """After half a lease timeout without the database, nobody's silence means anything: the
    holders' heartbeats could not get through either. Wait one lease timeout for them."""
    timeout = settings.RENDER_ZOMBIE_TIMEOUT_SECONDS
    if now - clock.last_ok > timeout / 2 and clock.silence_grace_until < now + timeout / 2:
        clock.silence_grace_until = now + timeout
        logger.warning(
            "queue supervisor: %.0f s without the database; no reaping for silence for %s s",
            now - clock.last_ok,
            timeout,
        )
