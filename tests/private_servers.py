"""Redis and PostgreSQL servers of a test's own, so stopping and restarting them disturbs
nobody else (the machine's shared servers keep running for the rest of the suite)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.conftest import require_service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class PrivateRedis:
    """A redis-server of this test's own, started and stopped at will on one port."""

    def __init__(self, port: int | None = None):
        require_service("redis-server", None if shutil.which("redis-server") else "not installed")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self.answers, timeout=10, what="the private redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False


class PrivatePostgres:
    """initdb + pg_ctl into a folder of its own (removed by `stop`), on a free port."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        require_service("PostgreSQL server binaries", None if bins else "not installed")
        self.bin = bins[-1]
        # Not under pytest's tmp_path: as root, the server runs as `postgres`, which must be able
        # to reach its folder.
        self.home = Path(tempfile.mkdtemp(prefix="hub-test-pg-"))
        self.dir = self.home / "pg"
        self.port = free_port()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

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
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.dir),
            "-w" if wait else "-W",
            "-l",
            str(self.dir / "log"),
            "-m",
            "fast",
            "-o",
            opts,
            action,
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop")
        shutil.rmtree(self.home, ignore_errors=True)
