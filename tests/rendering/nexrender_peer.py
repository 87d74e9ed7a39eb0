"""The real Nexrender server (npm @nexrender/server, pinned in tests/nexrender/) on loopback, an
AE machine that crashes mid-render, and a proxy that stalls one request. The AE farm itself is
tests/nexrender/farm.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.private_servers import NexrenderServer

SECRET = "test-secret"


@contextmanager
def nexrender_server(port: int, database: Path) -> Iterator[str]:
    """The server on `port` (oldest job first, as the stock server), jobs kept in `database`."""
    server = NexrenderServer(database, SECRET, port=port, ordering=None)
    try:
        yield server.start()
    finally:
        server.stop()


class CrashingAeWorker(threading.Thread):
    """An AE machine that picks jobs, reports them started and then goes silent (crashed
    mid-render): the job stays `started` on the server for good. Picks at most `jobs`."""

    def __init__(self, url: str, *, jobs: int = 1):
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=f"{url}/api/v1", headers={"nexrender-secret": SECRET})
        self.stopping = threading.Event()
        self.remaining = jobs
        self.picked: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set() and self.remaining > 0:
            try:
                job = self.http.get("/jobs/pickup").json()
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if not job.get("uid"):
                time.sleep(0.05)
                continue
            self.http.put(f"/jobs/{job['uid']}", json={"state": "started"})  # … and no more
            self.picked.append(job["uid"])
            self.remaining -= 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.http.close()


class StallingProxy:
    """An HTTP proxy in front of the server that, once armed, holds the next request for `path`
    for `stall_seconds` (past the client's timeout) before forwarding it."""

    def __init__(self, target: str, *, path: str, stall_seconds: float):
        self.target, self.path, self.stall_seconds = target, path, stall_seconds
        self.armed = threading.Event()
        self.stalled = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                if self.path.split("?")[0] == proxy.path and proxy.armed.is_set():
                    proxy.armed.clear()
                    proxy.stalled += 1
                    time.sleep(proxy.stall_seconds)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                try:
                    answer = httpx.request(
                        self.command, f"{proxy.target}{self.path}", content=body,
                        headers=headers, timeout=10,
                    )  # fmt: skip
                except httpx.HTTPError:
                    self.send_error(502)
                    return
                try:
                    self.send_response(answer.status_code)
                    self.send_header("content-type", answer.headers.get("content-type", ""))
                    self.send_header("content-length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the client gave up waiting

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def arm(self) -> None:
        self.armed.set()


@contextmanager
def stalling_proxy(target: str, *, path: str, stall_seconds: float) -> Iterator[StallingProxy]:
    proxy = StallingProxy(target, path=path, stall_seconds=stall_seconds)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
