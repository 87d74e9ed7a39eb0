"""Serve the hub: the web server (daphne: HTTP + WebSocket) and the worker clusters, supervised.

A child that dies is restarted with backoff while the others keep running (see
automation_hub/supervisor.py); SIGTERM or Ctrl-C stops everything within RUNHUB_STOP_SECONDS.
`--only` runs a part of the hub (one container per part under docker-compose).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation_hub.supervisor import ChildSpec, Supervisor


def hub_children(*, host: str, port: int) -> dict[str, ChildSpec]:
    """The processes of a hub, by name. Adding a long-running process is one more entry."""
    python = sys.executable
    manage = str(settings.BASE_DIR / "manage.py")
    children = {
        "web": ChildSpec(
            "web",
            # A stopping daphne waits this long for open sockets' consumers, not its default 10 s.
            [
                python,
                "-m",
                "daphne",
                "-b",
                host,
                "-p",
                str(port),
                "--application-close-timeout",
                "2",
                "automation_hub.asgi:application",
            ],
        ),
        # Renders only: the default django-q2 cluster.
        "render-workers": ChildSpec("render-workers", [python, manage, "runworkers", "render"]),
        # The hub's own schedules and background tasks, never queued behind renders.
        "ops-workers": ChildSpec("ops-workers", [python, manage, "runworkers", "ops"]),
        # Takes a dead render worker's job back within seconds: it must run on the render
        # workers' host (it tells a gone worker process from a busy one), so beside them.
        "queue-supervisor": ChildSpec("queue-supervisor", [python, manage, "queue_supervisor"]),
    }
    if settings.RENDER_BACKEND == "nexrender":
        # Follows every job on the AE farm, so a render never pins a render worker. Render
        # workers hand it jobs until they have stopped, so it stops after them and gives back
        # every job it holds then.
        children["nexrender-follower"] = ChildSpec(
            "nexrender-follower", [python, manage, "nexrender_follower"], stops_last=True
        )
    return children


class Command(BaseCommand):
    help = "Start the web server and the worker clusters together, supervised (`make run`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--no-workers", action="store_true", help="web server only")
        parser.add_argument(
            "--only",
            action="append",
            metavar="NAME",
            help=(
                "run only these parts (repeatable): web, render-workers, ops-workers, "
                "queue-supervisor, nexrender-follower (RENDER_BACKEND=nexrender)"
            ),
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        no_workers: bool,
        only: list[str] | None,
        **options: Any,
    ) -> None:
        children = hub_children(host=host, port=port)
        names = list(only or (["web"] if no_workers else children))
        unknown = sorted(set(names) - set(children))
        if unknown:
            raise CommandError(
                f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(children)}"
            )
        supervisor = Supervisor(
            [children[name] for name in names],
            say=lambda line: self.stderr.write(f"runhub: {line}"),
        )
        signal.signal(signal.SIGINT, supervisor.request_stop)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        if "web" in names:
            self.stdout.write(
                f"WSOP Automation Hub ({settings.HUB_MODE} mode) on http://{host}:{port}/\n"
                f"  dashboard  http://{host}:{port}/    admin  http://{host}:{port}/admin/\n"
                f"  API docs   http://{host}:{port}/api/docs/\n"
                "  log in with your admin user; producer keys: manage.py create_api_key <role>\n"
                f"  running: {', '.join(names)}. Ctrl-C stops them all."
            )
        self.stdout.flush()
        code = supervisor.run()
        if code:
            sys.exit(code)
