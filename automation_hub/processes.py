"""Which of the hub's processes are alive: the `HubProcess` heartbeat rows.

Each supervisor (`manage.py runhub`, one per host or per container) writes one row per child it
runs, every HUB_HEARTBEAT_SECONDS, so readiness and the dashboard badge see every part of the hub
in either run mode and on any host, without asking the broker or the process table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from automation_hub.models import HubProcess


@dataclass(frozen=True)
class ProcessBeat:
    name: str
    state: str
    pid: int | None
    restarts: int
    last_exit: str
    started_at: datetime | None


def hub_processes_beat(*, host: str, beats: list[ProcessBeat]) -> None:
    """Record the state of a supervisor's children (one upsert each)."""
    now = timezone.now()
    for beat in beats:
        HubProcess.objects.update_or_create(
            name=beat.name,
            host=host,
            defaults={
                "state": beat.state,
                "pid": beat.pid,
                "restarts": beat.restarts,
                "last_exit": beat.last_exit[:255],
                "started_at": beat.started_at,
                "beat_at": now,
            },
        )


@dataclass(frozen=True)
class ProcessHealth:
    name: str
    ok: bool
    detail: str  # "ok", or what is wrong in a few words


def hub_processes_health(*, now: datetime | None = None) -> dict[str, ProcessHealth]:
    """Per process name (all hosts together): ok while one instance runs and beats.

    Processes whose supervisor stopped them on purpose are left out; a supervisor that vanished
    without saying so leaves a stale row, reported as down.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.HUB_PROCESS_STALE_SECONDS)
    by_name: dict[str, list[HubProcess]] = {}
    for row in HubProcess.objects.exclude(state=HubProcess.State.STOPPED).order_by("name", "host"):
        by_name.setdefault(row.name, []).append(row)
    health = {}
    for name, rows in by_name.items():
        alive = [
            r for r in rows if r.state == HubProcess.State.RUNNING and r.beat_at >= stale_before
        ]
        if alive:
            health[name] = ProcessHealth(name, True, "ok")
            continue
        worst = rows[0]
        if worst.beat_at < stale_before:
            detail = f"no heartbeat for {int((now - worst.beat_at).total_seconds())} s"
        elif worst.state == HubProcess.State.RESTARTING:
            detail = f"restarting after {worst.last_exit or '?'} ({worst.restarts} restarts so far)"
        else:
            detail = f"{worst.get_state_display()} (last exit: {worst.last_exit or '?'})"
        health[name] = ProcessHealth(name, False, detail)
    return health
