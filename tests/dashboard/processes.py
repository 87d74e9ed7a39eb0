"""Other processes on this test run's database: a Python snippet, or the hub's web server.

Live events must cross processes (a django-q2 worker, a management command, the admin), so the
tests raise them from a separate interpreter and watch them arrive through a real daphne.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from tests.private_servers import free_port

BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    """The URL of the database this test run uses (the test database, not the configured one)."""
    db = connection.settings_dict
    if settings.DB_VENDOR == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{quote(db.get('USER') or 'postgres')}{password}@{host}:{port}/{db['NAME']}"


def hub_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        OUTPUT_ROOT=str(settings.OUTPUT_ROOT),
        DJANGO_SETTINGS_MODULE="automation_hub.settings",
        PYTHONUNBUFFERED="1",
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(extra)
    return env


def run_python(code: str, *, timeout: float = 60) -> str:
    """Run `code` after django.setup() in a new interpreter; returns its stdout."""
    script = "import django; django.setup()\n" + code
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=hub_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"child process failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def run_python_parallel(codes: list[str], *, timeout: float = 300) -> None:
    """Run each snippet in its own interpreter, all at once (several workers); wait for all."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import django; django.setup()\n" + code],
            cwd=BASE_DIR,
            env=hub_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for code in codes
    ]
    failures = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            failures.append(f"{out}\n{err}")
    if failures:
        raise AssertionError("child process failed:\n" + "\n".join(failures))


class HubServer:
    """daphne serving the hub (HTTP + WebSocket) on a free loopback port, on the test database."""

    def __init__(self, **env: str) -> None:
        self.env = env  # extra settings for the server, e.g. LIVE_SESSION_CHECK_SECONDS
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = BASE_DIR / "test-artifacts" / f"daphne-{self.port}.log"

    def start(self) -> HubServer:
        self.log.parent.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        cmd.append("automation_hub.asgi:application")
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=BASE_DIR, env=hub_env(**self.env), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daphne exited:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("daphne did not start listening within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
