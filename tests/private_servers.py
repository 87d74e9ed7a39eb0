"""Servers of a test's or a bench's own — Redis, PostgreSQL and the real @nexrender/server — on
free loopback ports, so stopping and restarting them disturbs nobody else (the machine's shared
servers keep running for the rest of the suite).

Plain Python with no Django or pytest import: the benches (bench/) start the same servers. A test
asks `missing()` first and hands the reason to `tests.conftest.require_service`."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import redis

NEXRENDER_DIR = Path(__file__).resolve().parent / "nexrender"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def terminate(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(10)


class PrivateRedis:
    """A redis-server of its own on one port, started and stopped at will. With `home` its data
    is kept in an append-only file there and survives a restart (as a production Redis);
    without, a restart comes back empty."""

    def __init__(self, port: int | None = None, *, home: Path | None = None, db: int = 0):
        if reason := self.missing():
            raise RuntimeError(f"redis-server unavailable: {reason}")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/{db}"
        self.dir = home / "redis" if home else None
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        return None if shutil.which("redis-server") else "not installed"

    def start(self) -> str:
        keep = ("--appendonly", "no")
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True)
            keep = ("--dir", str(self.dir), "--appendonly", "yes")
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", *keep],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=10, what="the private redis-server")
        return self.url

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False


class PrivatePostgres:
    """initdb + pg_ctl into `home` (default: a folder of its own, removed by `stop`), on a free
    port. As root the server runs as `postgres`, which must be able to reach `home` (so not
    under pytest's tmp_path)."""

    def __init__(self, home: Path | None = None, *, max_connections: int = 100):
        if reason := self.missing():
            raise RuntimeError(f"PostgreSQL server unavailable: {reason}")
        self.bin = self._bins()[-1]
        self.own_home = home is None
        self.home = home or Path(tempfile.mkdtemp(prefix="hub-test-pg-"))
        self.dir = self.home / "pg"
        self.port = free_port()
        self.max_connections = max_connections
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @staticmethod
    def _bins() -> list[Path]:
        return sorted(Path("/usr/lib/postgresql").glob("*/bin"))

    @classmethod
    def missing(cls) -> str | None:
        return None if cls._bins() else "server binaries not installed"

    def settings(self, **extra: object) -> dict[str, object]:
        """A DATABASES entry for this server's `postgres` database."""
        return {
            "ENGINE": "automation_hub.db.postgresql",
            "NAME": "postgres",
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            **extra,
        }

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True)

    def init(self) -> None:
        self.dir.mkdir()
        if self.as_owner:
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.home, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust")

    def pg_ctl(self, action: str, *, wait: bool = True) -> None:
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
            f" -c max_connections={self.max_connections}"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.dir), "-w" if wait else "-W", "-l", str(self.dir / "log")),
            *("-m", "fast", "-o", opts, action),
        )

    def start(self, database: str = "postgres") -> str:
        """initdb, start, create `database`: its URL."""
        self.init()
        self.pg_ctl("start")
        if database != "postgres":
            self._run(
                str(self.bin / "createdb"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", database),
            )
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        self.pg_ctl("restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop")
        if self.own_home:
            shutil.rmtree(self.home, ignore_errors=True)


class NexrenderServer:
    """The real @nexrender/server (tests/nexrender/server.js) on a free port. Its jobs are kept
    in `database` and survive a restart; `ordering` is its NEXRENDER_ORDERING (None: the
    server's default, oldest first)."""

    def __init__(
        self,
        database: Path,
        secret: str,
        *,
        port: int | None = None,
        ordering: str | None = "priority",
    ):
        self.database, self.secret, self.ordering = database, secret, ordering
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if not (NEXRENDER_DIR / "node_modules" / "@nexrender" / "server").is_dir():
            return "run `npm ci` in tests/nexrender"
        return None

    def start(self) -> str:
        self.database.parent.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/local/bin")}
        env["NEXRENDER_DATABASE"] = str(self.database)
        if self.ordering:
            env["NEXRENDER_ORDERING"] = self.ordering
        self.proc = subprocess.Popen(
            ["node", "server.js", str(self.port), self.secret],
            cwd=NEXRENDER_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.healthy, timeout=20, what="the Nexrender server")
        return self.url

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def jobs(self) -> list:
        headers = {"nexrender-secret": self.secret}
        return httpx.get(f"{self.url}/api/v1/jobs/status", headers=headers, timeout=10).json()

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
