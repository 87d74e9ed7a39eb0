"""The real Nexrender server (npm @nexrender/server, pinned in tests/nexrender/) on loopback,
and a small AE stand-in that picks jobs the way the stock nexrender-worker does."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SERVER_DIR = Path(__file__).resolve().parents[1] / "nexrender"
SECRET = "test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (SERVER_DIR / "node_modules" / "@nexrender" / "server").is_dir():
        return "run `npm ci` in tests/nexrender"
    return None


@contextmanager
def nexrender_server(port: int, database: Path) -> Iterator[str]:
    database.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["node", "server.js", str(port), SECRET],
        cwd=SERVER_DIR,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "NEXRENDER_DATABASE": str(database)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError("nexrender server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


class AeWorker(threading.Thread):
    """Picks queued jobs, reports started → render:dorender (progress) → finished (writing the
    copy action's output file) or error (for composition "broken")."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=f"{url}/api/v1", headers={"nexrender-secret": SECRET})
        self.stopping = threading.Event()
        self.rendered: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set() and self._wants_more():
            try:
                job = self.http.get("/jobs/pickup").json()
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if not job.get("uid"):
                time.sleep(0.05)
                continue
            self._render(job)

    def _wants_more(self) -> bool:
        return True

    def _put(self, uid: str, **fields) -> None:
        self.http.put(f"/jobs/{uid}", json=fields).raise_for_status()

    def _render(self, job: dict) -> None:
        uid = job["uid"]
        self._put(uid, state="started")
        self._put(uid, state="render:dorender", renderProgress=50)
        if job["template"]["composition"] == "broken":
            self._put(uid, state="error", error="Composition 'broken' not found in project")
            return
        target = Path(job["actions"]["postrender"][0]["output"])
        layers = {a["layerName"]: a["value"] for a in job["assets"]}
        target.write_bytes(b"\x00\x00\x00\x18ftypmp42" + repr(layers).encode())
        self._put(uid, state="finished", renderProgress=100)
        self.rendered.append(uid)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.http.close()


class CrashingAeWorker(AeWorker):
    """An AE machine that picks jobs, reports them started and then goes silent (crashed
    mid-render): the job stays `started` on the server for good. Picks at most `jobs`."""

    def __init__(self, url: str, *, jobs: int = 1):
        super().__init__(url)
        self.remaining = jobs
        self.picked: list[str] = []

    def _wants_more(self) -> bool:
        return self.remaining > 0

    def _render(self, job: dict) -> None:
        self._put(job["uid"], state="started")  # … and nothing more, ever
        self.picked.append(job["uid"])
        self.remaining -= 1
