"""Serve the hub: daphne (HTTP + WebSocket) and a django-q2 cluster (workers + schedules).

The processes are supervised together: if one exits, the others are stopped and the command
exits non-zero, so a half-running hub never looks healthy. Ctrl-C stops everything.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Start the web server and the render workers together (what `make run` runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--no-workers", action="store_true", help="web server only")

    def handle(self, *args: Any, host: str, port: int, no_workers: bool, **options: Any) -> None:
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "daphne",
                "-b",
                host,
                "-p",
                str(port),
                "automation_hub.asgi:application",
            ],
        }
        if not no_workers:
            commands["workers"] = [python, "manage.py", "qcluster"]
            # Beside the workers (same host): takes a dead worker's job back within seconds.
            commands["supervisor"] = [python, "manage.py", "queue_supervisor"]
        procs = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        self.stdout.write(
            f"WSOP Automation Hub ({settings.HUB_MODE} mode) on http://{host}:{port}/\n"
            f"  dashboard  http://{host}:{port}/    admin  http://{host}:{port}/admin/\n"
            f"  API docs   http://{host}:{port}/api/docs/\n"
            "  log in with your admin user; producer keys: manage.py create_api_key <role>\n"
            "  Ctrl-C stops the web server and the workers."
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited ({proc.returncode}); stopping the hub")
                    exit_code = proc.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if exit_code:
            sys.exit(exit_code)
