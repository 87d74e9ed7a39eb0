"""A farm of After Effects machines for tests and benchmarks, speaking the Nexrender server's
worker API exactly as the stock `@nexrender/worker` does.

Each machine (a thread) polls `GET /api/v1/jobs/pickup` every `poll_seconds` (the stock worker's
default is 30 s; tests use ~0.2 s), then `PUT`s `started`, `render:dorender` with
`renderProgress`, runs the job's `actions.postrender` copy action (writes the output file to the
action's `output` path) and `PUT`s `finished`, or `error` when the template's name contains
"broken" (with an After Effects-like message). It survives the server going down: it keeps
polling, and a render under way keeps trying to report its end until the server is back.

Every render is logged (`renders`), so a test can assert how many times each uid was rendered.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

_UID = re.compile(r"^.+?-(\d+)-[0-9a-f]+$")


@dataclass(frozen=True)
class Render:
    uid: str
    machine: int
    started: float  # time.time(): comparable with the hub's own timestamps
    ended: float
    outcome: str  # finished | error


class Farm:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        machines: int = 1,
        render_seconds: float | tuple[float, float] = 0.3,
        poll_seconds: float = 0.2,
        progress_steps: int = 3,
    ):
        self.url, self.secret = url, secret
        self.render_seconds = render_seconds
        self.poll_seconds = poll_seconds
        self.progress_steps = progress_steps
        self.renders: list[Render] = []
        self.picked: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._busy = [False] * machines
        self._threads = [
            threading.Thread(target=self._machine, args=(n,), name=f"ae-{n}", daemon=True)
            for n in range(machines)
        ]

    # -- control and what happened ----------------------------------------------------------

    def start(self) -> Farm:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def busy(self) -> int:
        """Machines rendering right now."""
        return sum(self._busy)

    def renders_of(self, uid: str) -> int:
        with self._lock:
            return sum(1 for r in self.renders if r.uid == uid)

    def renders_per_instruction(self) -> Counter[int]:
        """Instruction id (from `<prefix>-<id>-<token>`) → renders that ran to the end."""
        with self._lock:
            uids = [r.uid for r in self.renders]
        return Counter(int(m.group(1)) for uid in uids if (m := _UID.match(uid)))

    def log(self) -> list[Render]:
        with self._lock:
            return list(self.renders)

    # -- one machine ------------------------------------------------------------------------

    def _machine(self, n: int) -> None:
        http = httpx.Client(
            base_url=f"{self.url}/api/v1", headers={"nexrender-secret": self.secret}, timeout=5.0
        )
        try:
            while not self._stopping.is_set():
                try:
                    job = http.get("/jobs/pickup").json()
                except (httpx.HTTPError, ValueError):
                    self._stopping.wait(self.poll_seconds)  # server down or restarting
                    continue
                if not isinstance(job, dict) or not job.get("uid"):
                    self._stopping.wait(self.poll_seconds)
                    continue
                self._busy[n] = True
                try:
                    self._render(n, http, job)
                finally:
                    self._busy[n] = False
        finally:
            http.close()

    def _seconds(self) -> float:
        if isinstance(self.render_seconds, tuple):
            return random.uniform(*self.render_seconds)
        return float(self.render_seconds)

    def _render(self, n: int, http: httpx.Client, job: dict) -> None:
        uid, started = job["uid"], time.time()
        with self._lock:
            self.picked.append(uid)
        self._put(http, uid, {"state": "started"}, must=False)
        total = self._seconds()
        for step in range(1, self.progress_steps + 1):
            time.sleep(total / (self.progress_steps + 1))
            progress = round(100 * step / (self.progress_steps + 1))
            self._put(
                http, uid, {"state": "render:dorender", "renderProgress": progress}, must=False
            )
        time.sleep(total / (self.progress_steps + 1))
        if "broken" in str(job.get("template", {}).get("src", "")):
            outcome = "error"
            fields = {
                "state": "error",
                "error": "After Effects error: Unable to open the project: composition not found",
            }
        else:
            outcome = "finished"
            for action in (job.get("actions") or {}).get("postrender") or []:
                if action.get("module") == "@nexrender/action-copy" and action.get("output"):
                    target = Path(action["output"])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(
                        b"\x89PNG\r\n\x1a\n" + uid.encode() + repr(job.get("assets")).encode()
                    )
            fields = {"state": "finished", "renderProgress": 100}
        with self._lock:
            self.renders.append(Render(uid, n, started, time.time(), outcome))
        self._put(http, uid, fields, must=True)

    def _put(self, http: httpx.Client, uid: str, fields: dict, *, must: bool) -> None:
        """Report a state. The end of a render is retried while the server cannot be reached;
        an answer that refuses it (the job was deleted meanwhile) is the end of it."""
        while True:
            try:
                http.put(f"/jobs/{uid}", json=fields)
                return
            except httpx.TransportError:
                if not must or self._stopping.is_set():
                    return
                time.sleep(self.poll_seconds)
