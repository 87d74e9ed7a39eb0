"""A farm of After Effects machines standing in for the real ones, for the broadcast-day soak.

Each machine picks jobs from the real Nexrender server the way the stock `nexrender-worker` does
(`GET /api/v1/jobs/pickup`, then `started` → `render:dorender` → `finished` | `error`), takes a
random render time, writes the copy action's output file, and survives the server going away
(it polls again until the server is back). A template whose name contains "broken" fails with an
After Effects-like message, so the soak has graphics that fail with a reason.

The soak uses only `start_ae_farm`: a fuller farm double replaces that one function.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_UID = re.compile(r"^hub-(\d+)-")


@dataclass
class AeFarm:
    machines: list[threading.Thread]
    stopping: threading.Event
    finished: list[str] = field(default_factory=list)  # job uids rendered to the end
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self) -> None:
        self.stopping.set()
        for machine in self.machines:
            machine.join(timeout=10)

    def renders_per_instruction(self) -> Counter:
        """Instruction id → how many AE renders of it ran to the end."""
        with self.lock:
            uids = list(self.finished)
        return Counter(int(m.group(1)) for uid in uids if (m := _UID.match(uid)))


def start_ae_farm(
    url: str, secret: str, *, machines: int, render_seconds: tuple[float, float] = (0.5, 2.0)
) -> AeFarm:
    """Start `machines` AE stand-ins polling the Nexrender server at `url`."""
    farm = AeFarm(machines=[], stopping=threading.Event())
    for n in range(machines):
        thread = threading.Thread(
            target=_machine, args=(farm, url, secret, render_seconds), name=f"ae-{n}", daemon=True
        )
        farm.machines.append(thread)
        thread.start()
    return farm


def _machine(farm: AeFarm, url: str, secret: str, render_seconds: tuple[float, float]) -> None:
    http = httpx.Client(base_url=f"{url}/api/v1", headers={"nexrender-secret": secret}, timeout=5.0)
    try:
        while not farm.stopping.is_set():
            try:
                job = http.get("/jobs/pickup").json()
            except (httpx.HTTPError, ValueError):
                farm.stopping.wait(0.5)  # server down or restarting
                continue
            if not job.get("uid"):
                farm.stopping.wait(0.2)
                continue
            try:
                _render(farm, http, job, render_seconds)
            except httpx.HTTPError as exc:  # the server went away mid-render: the job is lost
                with farm.lock:
                    farm.errors.append(f"{job['uid']}: {exc}")
    finally:
        http.close()


def _render(
    farm: AeFarm, http: httpx.Client, job: dict, render_seconds: tuple[float, float]
) -> None:
    uid = job["uid"]
    http.put(f"/jobs/{uid}", json={"state": "started"}).raise_for_status()
    total = random.uniform(*render_seconds)
    for progress in (25, 50, 75):
        time.sleep(total / 4)
        http.put(
            f"/jobs/{uid}", json={"state": "render:dorender", "renderProgress": progress}
        ).raise_for_status()
    time.sleep(total / 4)
    if "broken" in job["template"]["src"]:
        http.put(
            f"/jobs/{uid}",
            json={"state": "error", "error": "After Effects: composition 'main' not found"},
        ).raise_for_status()
        return
    target = Path(job["actions"]["postrender"][0]["output"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"\x89PNG\r\n\x1a\n" + uid.encode())
    http.put(f"/jobs/{uid}", json={"state": "finished", "renderProgress": 100}).raise_for_status()
    with farm.lock:
        farm.finished.append(uid)
